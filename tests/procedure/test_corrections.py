"""Sending a report back for correction (steps 5 and 9): the report is kept and marked
superseded, the request goes back, the same order returns to its agent (DESIGN §9)."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from accounts.rules import StepRefused
from contracts.enums import RequestState
from interventions import services as interventions
from interventions.enums import OrderKind, OrderStatus
from interventions.models import InterventionReport
from procedure import services
from procedure.selectors import work_queue
from tests.workflow import ALL_SAFETY_STEPS, TODAY, advance, create, reload, worked_example_contract

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def tasks(user, request):
    return [item.task for item in work_queue(user, TODAY) if item.request_id == request.pk]


@pytest.fixture
def reported(akpakpa, staff):
    """A classic report waiting for the supervisor's signature: a mistyped cut index, 12 300
    instead of 12 030."""
    return advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.FIELD_REPORTED
    )


def test_the_supervisor_sends_the_report_back_and_the_corrected_one_is_invoiced(reported, staff):
    first = reported.orders.get().report
    services.termination_request_send_back_field_report(
        reported, actor=staff.supervisor, reason="Index de coupure illisible, à vérifier"
    )
    request = reload(reported)
    order = request.orders.get()
    assert (request.state, order.status) == (RequestState.ORDER_ISSUED, OrderStatus.RETURNED)
    first.refresh_from_db()
    assert (first.superseded_by, first.superseded_reason, first.cut_index) == (
        staff.supervisor,
        "Index de coupure illisible, à vérifier",
        12300,
    )
    assert order.report is None  # nothing in force until the correction
    assert tasks(staff.reader, request) == ["Corriger le compte-rendu renvoyé"]
    assert tasks(staff.supervisor, request) == []

    services.termination_request_report_field(
        request,
        actor=staff.reader,
        index_read=12030,
        read_on=TODAY,
        cut_done=True,
        cut_index=12030,
        remarks=[],
    )
    request = reload(request)
    assert request.state == RequestState.FIELD_REPORTED
    order = request.orders.get()
    assert [(r.cut_index, r.is_superseded) for r in order.reports.all()] == [
        (12300, True),
        (12030, False),
    ]
    assert request.events.get(action="report_field", data__corrected=True).data["index"] == 12030
    request = advance(request, staff, RequestState.INVOICED)
    invoice = request.invoices.get(kind="balance")
    assert (invoice.new_index, invoice.consumption) == (12030, 30)
    assert [e.action for e in request.events.filter(step=5)] == [
        "report_field",
        "send_back_field_report",
        "report_field",
        "approve_report",
    ]


def test_sending_back_needs_a_reason_and_is_the_supervisors(reported, staff):
    with pytest.raises(StepRefused) as refused:
        services.termination_request_send_back_field_report(
            reported, actor=staff.supervisor, reason=" "
        )
    assert refused.value.message == interventions.REASON_REQUIRED
    for person in (staff.reader, staff.reception, staff.acff):
        with pytest.raises(PermissionDenied):
            services.termination_request_send_back_field_report(reported, actor=person, reason="x")
    assert reload(reported).state == RequestState.FIELD_REPORTED


def test_a_signed_report_is_not_sent_back(reported, staff):
    services.termination_request_approve_report(reported, actor=staff.supervisor)
    with pytest.raises(StepRefused):
        services.termination_request_send_back_field_report(
            reported, actor=staff.supervisor, reason="Trop tard"
        )


def test_the_database_keeps_what_a_report_says(reported, staff):
    report = reported.orders.get().report
    with pytest.raises(IntegrityError, match="cannot change"), transaction.atomic():
        InterventionReport.objects.filter(pk=report.pk).update(cut_index=12000)
    with pytest.raises(IntegrityError, match="DELETE refused"), transaction.atomic():
        InterventionReport.objects.filter(pk=report.pk).delete()
    services.termination_request_send_back_field_report(
        reported, actor=staff.supervisor, reason="À reprendre"
    )
    with pytest.raises(IntegrityError, match="cannot change"), transaction.atomic():
        InterventionReport.objects.filter(pk=report.pk).update(superseded_reason="autre chose")


def test_a_removal_report_sent_back_returns_to_the_crew(akpakpa, staff):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.METER_REMOVED
    )
    services.termination_request_send_back_removal_report(
        request, actor=staff.supervisor, reason="Checklist incomplète sur le papier"
    )
    request = reload(request)
    order = request.orders.get(kind=OrderKind.REMOVAL)
    assert (request.state, order.status) == (RequestState.REMOVAL_ORDERED, OrderStatus.RETURNED)
    assert tasks(staff.arpnt, request) == ["Corriger le compte-rendu renvoyé"]
    services.termination_request_report_removal(
        request,
        actor=staff.arpnt,
        index_read=12305,
        read_on=TODAY,
        cut_done=True,
        safety_steps_confirmed=ALL_SAFETY_STEPS,
        remarks=[],
    )
    services.termination_request_sign_removal(request, actor=staff.supervisor)
    with pytest.raises(StepRefused) as refused:
        services.termination_request_send_back_removal_report(
            request, actor=staff.supervisor, reason="Trop tard"
        )
    assert refused.value.message == interventions.REPORT_ALREADY_SIGNED
    services.termination_request_confirm_codification(request, actor=staff.acff)
    request = reload(request)
    assert request.state == RequestState.CLOSED
    assert request.attestation.final_index == 12305
    order = request.orders.get(kind=OrderKind.REMOVAL)
    assert [r.index_read for r in order.superseded_reports] == [12300]
