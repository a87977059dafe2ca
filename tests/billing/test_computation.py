import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.computation import (
    ROLLOVER_REQUIRED,
    ComputationError,
    Item,
    balance,
    compute_consumption_invoice,
    compute_subscription_invoice,
    round_half_up,
)

BT_DOM = [
    Item("energie-tranche-1", "Énergie tranche sociale", "energy", 86, 0, 20, False),
    Item("energie-tranche-2", "Énergie tranche 2", "energy", 125, 20, 250, True),
    Item("energie-tranche-3", "Énergie tranche 3", "energy", 148, 250, None, True),
    Item(
        "location-entretien-compteur",
        "Location-entretien compteur",
        "fixed_per_kva",
        500,
        vat_applies=True,
    ),
    Item("taxe-electricite-sud", "Taxe sur l'électricité (Sud)", "levy_per_kwh", 2, zone="sud"),
    Item("taxe-electricite-nord", "Taxe sur l'électricité (Nord)", "levy_per_kwh", 3, zone="nord"),
    Item("redevance-electrification-rurale", "Redevance ER", "levy_per_kwh", 3),
    Item("tva", "TVA", "vat_rate", 18),
    Item("avance-consommation", "Avance sur consommation", "deposit_per_kva", 5000),
    Item("frais-police", "Frais de police", "subscription_fee", 2000),
    Item("frais-dossier", "Frais de dossier", "subscription_fee", 1000),
]
MT_GEN = [
    Item("energie", "Énergie", "energy", 110, 0, None, True),
    Item("entretien-compteur", "Entretien compteur", "fixed_per_contract", 2524, vat_applies=True),
    Item(
        "entretien-branchement",
        "Entretien branchement",
        "fixed_per_contract",
        11813,
        vat_applies=True,
    ),
    *BT_DOM[4:8],
]
LAST = dt.date(2026, 10, 1)


def bt_dom(kwh: int, days: int, *, zone: str = "sud", last_index: int = 1000):
    return compute_consumption_invoice(
        items=BT_DOM,
        power_kva=6,
        zone=zone,
        last_index=last_index,
        last_date=LAST,
        final_index=last_index + kwh,
        final_date=LAST + dt.timedelta(days=days),
        digits=6,
    )


def amounts(computation):
    return {line.code: (line.quantity, line.amount) for line in computation.lines}


def test_worked_example_30_days_300_kwh():
    result = bt_dom(300, 30)
    assert amounts(result) == {
        "energie-tranche-1": (20, 1720),
        "energie-tranche-2": (230, 28750),
        "energie-tranche-3": (50, 7400),
        "location-entretien-compteur": (6, 3000),
        "taxe-electricite-sud": (300, 600),
        "redevance-electrification-rurale": (300, 900),
    }
    assert result.vat_base == 39150
    assert result.vat_amount == 7047
    assert result.total == 49417
    assert balance(total=result.total, unpaid=12000, advances=5000, deposit=30000) == 26417


def test_worked_example_45_days_100_kwh():
    result = bt_dom(100, 45)
    assert amounts(result) == {
        "energie-tranche-1": (30, 2580),
        "energie-tranche-2": (70, 8750),
        "location-entretien-compteur": (6, 4500),
        "taxe-electricite-sud": (100, 200),
        "redevance-electrification-rurale": (100, 300),
    }
    assert result.vat_amount == 2385
    assert result.total == 18715


def test_electricity_tax_follows_the_agency_zone():
    assert amounts(bt_dom(300, 30, zone="nord"))["taxe-electricite-nord"] == (300, 900)
    assert "taxe-electricite-sud" not in amounts(bt_dom(300, 30, zone="nord"))


def test_period_of_zero_days_counts_as_one():
    assert bt_dom(10, 0).days == 1


def test_lower_index_is_refused_without_rollover():
    with pytest.raises(ComputationError) as error:
        compute_consumption_invoice(
            items=BT_DOM,
            power_kva=6,
            zone="sud",
            last_index=999_950,
            last_date=LAST,
            final_index=40,
            final_date=LAST + dt.timedelta(days=30),
            digits=6,
        )
    assert str(error.value) == ROLLOVER_REQUIRED.format(final=40, last=999_950)


def test_rollover_counts_through_zero():
    result = compute_consumption_invoice(
        items=BT_DOM,
        power_kva=6,
        zone="sud",
        last_index=999_950,
        last_date=LAST,
        final_index=40,
        final_date=LAST + dt.timedelta(days=30),
        digits=6,
        rollover=True,
    )
    assert result.consumption == 90


def test_mt_fixed_charges_are_per_contract_and_prorated():
    result = compute_consumption_invoice(
        items=MT_GEN,
        power_kva=160,
        zone="sud",
        last_index=100_000,
        last_date=LAST,
        final_index=110_000,
        final_date=LAST + dt.timedelta(days=15),
        digits=7,
    )
    assert amounts(result)["entretien-compteur"] == (1, 1262)
    assert amounts(result)["entretien-branchement"] == (1, 5907)  # 11813 / 2 = 5906.5 -> 5907
    assert amounts(result)["energie"] == (10_000, 1_100_000)


def test_subscription_invoice_for_a_6_kva_successor():
    result = compute_subscription_invoice(items=BT_DOM, power_kva=6)
    assert [(line.code, line.amount) for line in result.lines] == [
        ("avance-consommation", 30000),
        ("frais-police", 2000),
        ("frais-dossier", 1000),
    ]
    assert result.total == 33000
    assert result.vat_amount == 0


def test_round_half_up():
    assert round_half_up(5, 2) == 3
    assert round_half_up(7, 3) == 2
    assert round_half_up(3, 2) == 2
    assert round_half_up(1, 2) == 1


consumptions = st.integers(min_value=0, max_value=50_000)
periods = st.integers(min_value=0, max_value=400)


@given(kwh=consumptions, days=periods)
def test_tranche_quantities_add_up_to_the_consumption(kwh, days):
    result = bt_dom(kwh, days)
    assert (
        sum(
            line.quantity
            for line in result.lines
            if line.unit == "kWh" and line.code.startswith("energie")
        )
        == kwh
    )


@given(kwh=consumptions, days=periods)
def test_total_is_the_sum_of_its_lines_and_vat(kwh, days):
    result = bt_dom(kwh, days)
    assert result.total == sum(line.amount for line in result.lines) + result.vat_amount
    assert all(isinstance(line.amount, int) for line in result.lines)


@given(kwh=consumptions, extra=st.integers(min_value=1, max_value=5_000), days=periods)
def test_total_never_decreases_when_consumption_grows(kwh, extra, days):
    assert bt_dom(kwh + extra, days).total >= bt_dom(kwh, days).total


@given(kwh=consumptions, days=periods)
def test_no_amount_is_negative(kwh, days):
    result = bt_dom(kwh, days)
    assert all(line.amount >= 0 and line.quantity >= 0 for line in result.lines)
    assert result.vat_amount >= 0
