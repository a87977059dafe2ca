import pytest
from django.core import serializers
from django.core.management import call_command

from billing.enums import EntryKind, InvoiceState
from billing.models import AccountEntry, Invoice, TariffCategory, TariffItem
from contracts.enums import Role
from contracts.models import Agency, Contract, Customer, Deposit, Direction, User

pytestmark = pytest.mark.django_db

MODELS = [
    Agency,
    User,
    Customer,
    Contract,
    Deposit,
    TariffCategory,
    TariffItem,
    Invoice,
    AccountEntry,
]


def snapshot() -> str:
    return "".join(serializers.serialize("json", model.objects.order_by("pk")) for model in MODELS)


def test_loading_the_fixtures_twice_changes_nothing():
    call_command("load_demo_data", verbosity=0)
    first = snapshot()
    call_command("load_demo_data", verbosity=0)
    assert snapshot() == first


def test_loading_again_keeps_the_work_done_since():
    call_command("load_demo_data", verbosity=0)
    contract = Contract.objects.get(number="1010004503")
    contract.last_billed_index = 99999
    contract.save()
    call_command("load_demo_data", verbosity=0)
    contract.refresh_from_db()
    assert contract.last_billed_index == 99999


def test_reference_data_has_the_four_agencies_and_three_categories():
    call_command("load_demo_data", "--reference-only", verbosity=0)
    assert {(a.name, a.zone) for a in Agency.objects.all()} >= {
        ("Cotonou Akpakpa", "sud"),
        ("Cotonou Gbégamey", "sud"),
        ("Porto-Novo", "sud"),
        ("Parakou", "nord"),
    }
    assert set(TariffCategory.objects.values_list("code", flat=True)) == {
        "BT-DOM",
        "BT-PRO",
        "MT-GEN",
    }
    assert TariffItem.objects.get(category__code="BT-DOM", code="energie-tranche-2").value == 125
    assert Contract.objects.count() == 0


def test_the_four_agencies_are_grouped_into_directions_regionales():
    call_command("load_demo_data", "--reference-only", verbosity=0)
    grouping = {
        direction.code: sorted(direction.agencies.values_list("code", flat=True))
        for direction in Direction.objects.all()
    }
    assert grouping == {"DRL": ["AKP", "GBE"], "DROP": ["PNO"], "DRBA": ["PKO"]}


def test_the_admin_asks_for_the_direction_of_a_new_agency(client, reference_data):
    from tests.factories import UserFactory

    admin_user = UserFactory(
        username="dcc.admin", agency=Agency.objects.get(code="AKP"), roles=[Role.ADMIN]
    )
    admin_user.is_staff = True
    admin_user.save()
    client.force_login(admin_user)
    response = client.post(
        "/admin/contracts/agency/add/", {"code": "BOH", "name": "Bohicon", "zone": "sud"}
    )
    assert response.status_code == 200
    assert "Ce champ est obligatoire" in response.content.decode()
    assert not Agency.objects.filter(code="BOH").exists()


def test_demo_data_covers_every_role_in_two_agencies_and_sixty_contracts():
    call_command("load_demo_data", verbosity=0)
    for agency in ("Cotonou Akpakpa", "Parakou"):
        for role in Role.values:
            assert (
                User.objects.filter(agency__name=agency, groups__name=role, is_demo=True).count()
                == 1
            )
    assert not any(u.has_usable_password() for u in User.objects.filter(is_demo=True))
    assert Contract.objects.count() >= 60
    assert set(Contract.objects.values_list("tariff_category__code", flat=True)) == {
        "BT-DOM",
        "BT-PRO",
        "MT-GEN",
    }
    assert Deposit.objects.count() == Contract.objects.count()
    assert Invoice.objects.filter(state=InvoiceState.VALIDATED).exists()
    assert AccountEntry.objects.filter(kind=EntryKind.ADVANCE).exists()


def test_the_demo_requests_show_every_stage_once(frozen_today):
    """make run: requests at each stage in both demo agencies, some late, some closed weeks ago,
    each made by the procedure's services on its own days; a second load adds nothing."""
    import datetime as dt

    from django.utils import timezone

    from contracts.audit import verify_chains
    from contracts.models import TerminationRequest
    from procedure.selectors import with_deadline

    call_command("load_demo_data", verbosity=0)
    call_command("load_demo_requests", verbosity=0)
    states = sorted(
        TerminationRequest.objects.filter(agency__code="AKP").values_list("state", flat=True)
    )
    assert states == [
        "closed",
        "closed",
        "closed",
        "field_reported",
        "invoiced",
        "meter_removed",
        "order_issued",
        "order_issued",
        "received",
        "removal_ordered",
    ]
    assert TerminationRequest.objects.filter(agency__code="PKO").count() == 10
    today = timezone.localdate()
    late = with_deadline(TerminationRequest.objects.filter(agency__code="AKP"))
    assert sorted(late.filter(late=True).values_list("state", flat=True)) == [
        "field_reported",
        "meter_removed",
        "order_issued",
        "removal_ordered",
    ]
    closed = TerminationRequest.objects.filter(state="closed", agency__code="AKP")
    assert sorted((today - timezone.localtime(r.closed_at).date()).days for r in closed) == [
        3,
        8,
        18,
    ]
    first = TerminationRequest.objects.order_by("created_at").first()
    assert first.events.order_by("at").first().at.date() <= today - dt.timedelta(days=20)
    assert verify_chains() == []
    call_command("load_demo_requests", verbosity=0)
    assert TerminationRequest.objects.count() == 20
