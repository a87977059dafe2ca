"""An invoice's agency is written by the database (billing/triggers.py: INVOICE_AGENCY): its
request's, its contract's without one, whoever writes the row; kept by a save() of an instance
that does not know it; never changed once the invoice is validated."""

import pytest
from django.db import IntegrityError, transaction

from billing.models import Invoice
from contracts.enums import RequestState
from contracts.models import TerminationRequest
from tests.factories import ContractFactory, InvoiceFactory
from tests.workflow import advance, create, worked_example_contract

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def test_a_consumption_invoice_gets_its_contract_s_agency(parakou):
    invoice = InvoiceFactory(contract=ContractFactory(number="4010000077", agency=parakou))
    assert Invoice.objects.get(pk=invoice.pk).agency_id == parakou.pk


def test_a_termination_invoice_gets_its_request_s_agency(akpakpa, parakou, staff):
    request = create(worked_example_contract(akpakpa), staff)
    request = advance(request, staff, RequestState.INVOICED)
    invoice = request.invoices.get(kind="balance")
    assert invoice.agency_id == akpakpa.pk
    # With a request, the request's agency even where the contract says another.
    draft = Invoice.objects.create(
        contract=ContractFactory(number="4010000078", agency=parakou),
        request=TerminationRequest.objects.get(pk=request.pk),
        kind="complementary",
    )
    assert Invoice.objects.get(pk=draft.pk).agency_id == akpakpa.pk


def test_a_stale_save_keeps_the_agency_and_a_validated_invoice_keeps_it_for_good(
    akpakpa, parakou, staff
):
    request = advance(create(worked_example_contract(akpakpa), staff), staff, "invoiced")
    invoice = request.invoices.get(kind="balance")
    draft = Invoice.objects.create(contract=invoice.contract, kind="complementary")
    assert draft.agency_id is None  # unknown in memory: the database wrote it
    draft.total = 500
    draft.save()
    assert Invoice.objects.get(pk=draft.pk).agency_id == akpakpa.pk
    with transaction.atomic(), pytest.raises(IntegrityError, match="cannot change"):
        Invoice.objects.filter(pk=invoice.pk).update(agency=parakou)
    assert Invoice.objects.get(pk=invoice.pk).agency_id == akpakpa.pk
