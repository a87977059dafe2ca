import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from billing.enums import EntryKind
from contracts.enums import ContractStatus, CustomerKind, IdDocumentType
from tests.factories import (
    AccountEntryFactory,
    ContractFactory,
    CustomerFactory,
    DeliveryPointFactory,
    MeterFactory,
)

pytestmark = pytest.mark.django_db


def refused(constraint: str):
    """The database itself refuses the row, naming the constraint."""
    return pytest.raises(IntegrityError, match=constraint)


def test_duplicate_contract_number_is_refused_by_the_database(akpakpa):
    ContractFactory(number="1010000001", agency=akpakpa)
    with refused("contract_unique_number"), transaction.atomic():
        ContractFactory(number="1010000001", agency=akpakpa)


def test_duplicate_meter_serial_is_refused_by_the_database():
    MeterFactory(serial="CE190000001")
    with refused("meter_unique_serial"), transaction.atomic():
        MeterFactory(serial="CE190000001")


def test_second_active_contract_on_a_delivery_point_is_refused(akpakpa):
    point = DeliveryPointFactory(agency=akpakpa)
    ContractFactory(agency=akpakpa, delivery_point=point)
    with refused("contract_one_active_per_delivery_point"), transaction.atomic():
        ContractFactory(agency=akpakpa, delivery_point=point)


def test_new_contract_on_a_delivery_point_freed_by_a_termination_is_accepted(akpakpa):
    point = DeliveryPointFactory(agency=akpakpa)
    ContractFactory(
        agency=akpakpa,
        delivery_point=point,
        status=ContractStatus.TERMINATED,
        end_date=dt.date(2026, 11, 1),
    )
    assert ContractFactory(agency=akpakpa, delivery_point=point).is_active


def test_negative_deposit_is_refused(akpakpa):
    contract = ContractFactory(agency=akpakpa)
    contract.deposit.amount = -1
    with refused("amount"), transaction.atomic():
        contract.deposit.save()


def test_ledger_entry_with_both_debit_and_credit_is_refused(akpakpa):
    with refused("account_entry_one_side"), transaction.atomic():
        AccountEntryFactory(
            contract=ContractFactory(agency=akpakpa), kind=EntryKind.PAYMENT, debit=10, credit=10
        )


def test_terminated_contract_needs_an_end_date(akpakpa):
    with refused("contract_end_date_iff_terminated"), transaction.atomic():
        ContractFactory(agency=akpakpa, status=ContractStatus.TERMINATED, end_date=None)


def test_company_identified_by_a_cni_is_refused():
    with refused("customer_id_document_fits_kind"), transaction.atomic():
        CustomerFactory(kind=CustomerKind.COMPANY, id_document_type=IdDocumentType.CNI)


def test_normalized_name_is_computed_by_the_database():
    customer = CustomerFactory(name="AÏDJI Fifamè Sènami")
    customer.refresh_from_db()
    assert customer.name_normalized == "AIDJI FIFAME SENAMI"
