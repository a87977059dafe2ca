"""The "3 times the usual consumption" check: from the last 12 billed periods when the billing
system gave them, from the lifetime average only when it did not."""

import datetime as dt

import pytest

from accounts.rules import StepRefused
from billing.models import BilledReading
from billing.selectors import usual_consumption
from billing.services import reading_check
from tests.workflow import TODAY, worked_example_contract

pytestmark = pytest.mark.django_db


def history(contract, periods):
    """(days, kWh) of each period, the oldest first, ending at the last billed index."""
    end = contract.last_billed_date
    rows = []
    for days, kwh in reversed(periods):
        rows.append(
            BilledReading(contract=contract, period_end=end, index=0, days=days, consumption=kwh)
        )
        end -= dt.timedelta(days=days)
    BilledReading.objects.bulk_create(rows)


def check(contract, kwh, confirmed=False):
    return reading_check(
        contract,
        index=contract.last_billed_index + kwh,
        read_on=TODAY,
        rollover_confirmed=False,
        high_consumption_confirmed=confirmed,
    )


def test_without_history_the_lifetime_average(akpakpa, frozen_today):
    contract = worked_example_contract(akpakpa)  # 12 000 kWh since 19/07/2023: ~10 a day
    assert usual_consumption(contract, 30) == 12000 * 30 // 1200
    assert check(contract, 900) == 900  # 30 days: 300 usual, 900 is exactly three times
    with pytest.raises(StepRefused, match="plus de trois fois"):
        check(contract, 901)


def test_with_history_the_last_twelve_billed_periods(akpakpa, frozen_today):
    """A customer who used little for years and much lately: the lifetime average (10 a day)
    would refuse a normal reading; the last twelve periods (40 a day) accept it."""
    contract = worked_example_contract(akpakpa)
    history(contract, [(30, 9999)] * 3 + [(30, 1200)] * 12)  # only the last 12 count
    assert usual_consumption(contract, 30) == 1200
    assert check(contract, 2500) == 2500
    assert check(contract, 3600) == 3600
    with pytest.raises(StepRefused, match=r"3601 kWh, plus de trois fois l'habituel \(1200 kWh"):
        check(contract, 3601)
    assert check(contract, 3601, confirmed=True) == 3601


def test_periods_of_different_lengths_are_weighted_by_their_days(akpakpa, frozen_today):
    contract = worked_example_contract(akpakpa)
    history(contract, [(60, 600), (30, 900)])  # 1 500 kWh over 90 days
    assert usual_consumption(contract, 30) == 500
