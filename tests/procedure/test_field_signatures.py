"""Steps 5 and 9 as the procedure writes them: the ARPNT agent may report at step 5 like a
reader; the agent who did the work signs the report as theirs (with their login, or from
their phone) before the responsable signs it; a report entered on their behalf from the paper
names both and waits for their signature; the interruption order is filed (classé) once its
report is approved, and its page and copies say so."""

import html
import io
import json
import uuid

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from pypdf import PdfReader

from accounts.rules import SOD_REPORT, StepRefused
from billing import services as billing
from billing.documents import copy_marks, document_issue, stamp_pdf
from billing.enums import DocumentKind
from contracts.enums import RequestState, Role, Timing
from interventions import services as interventions
from interventions.enums import OrderStatus
from interventions.models import InterventionReport
from procedure import services
from procedure.selectors import describe, work_queue
from tests.factories import UserFactory
from tests.workflow import (
    ALL_SAFETY_STEPS,
    TODAY,
    advance,
    create,
    issue_and_sign,
    reload,
    worked_example_contract,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

CUT = {"index_read": 12300, "read_on": TODAY, "cut_done": True, "cut_index": 12300, "remarks": []}


@pytest.fixture
def classic(akpakpa, staff):
    """A classic request whose signed order is confided to the ARPNT agent."""
    request = create(worked_example_contract(akpakpa), staff)
    issue_and_sign(request, staff, assignee=staff.arpnt)
    return reload(request)


def name(user) -> str:
    return user.get_full_name() or user.username


def tasks(user, request):
    return [item.task for item in work_queue(user, TODAY) if item.request_id == request.pk]


def order_copy(request, staff, kind=DocumentKind.ORDER) -> str:
    """A print of the request's field order, as the agency would make it: the text of the PDF."""
    order = request.orders.order_by("id").first()
    document = document_issue(kind, order.pk)
    printed = billing.document_print_record(document, actor=staff.reception)
    pdf = stamp_pdf(bytes(document.content), **copy_marks(document, printed.copy))
    return " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def test_the_arpnt_agent_reports_at_step_5_like_a_reader(classic, staff):
    assert tasks(staff.arpnt, classic) == ["Saisir le compte-rendu d'intervention"]
    report = services.termination_request_report_field(classic, actor=staff.arpnt, **CUT)
    assert reload(classic).state == RequestState.FIELD_REPORTED
    assert (report.agent, report.entered_by, report.agent_signed_via) == (
        staff.arpnt,
        staff.arpnt,
        "web",
    )
    assert report.agent_signed_at is not None
    order = classic.orders.get()
    assert order.status == OrderStatus.REPORTED
    assert tasks(staff.supervisor, classic) == ["Contrôler et signer l'ordre de coupure"]
    event = classic.events.get(action="report_field")
    assert event.actor_role == Role.ARPNT
    assert (event.data["agent"], event.data["agent_signed"]) == (
        name(staff.arpnt),
        True,
    )
    services.termination_request_approve_report(classic, actor=staff.supervisor)
    order.refresh_from_db()
    assert (order.status, order.filed_at) == (
        OrderStatus.FILED,
        InterventionReport.objects.get(pk=report.pk).signed_at,
    )
    assert classic.events.get(action="approve_report").data["filed"] is True


def test_the_arpnt_agent_makes_the_anticipated_reading_and_the_order_is_filed(akpakpa, staff):
    request = create(worked_example_contract(akpakpa), staff)
    issue_and_sign(
        request, staff, timing=Timing.ANTICIPATED, cut_date=TODAY.replace(day=30).replace(month=12)
    )
    services.termination_request_report_field(
        request,
        actor=staff.arpnt,
        index_read=12300,
        read_on=TODAY,
        cut_done=False,
        cut_index=None,
        remarks=[],
    )
    order = request.orders.get()
    assert (reload(request).state, order.status) == (RequestState.REPORT_APPROVED, "filed")
    assert order.filed_at is not None


def test_the_same_separation_of_duties_for_an_arpnt_report(classic, akpakpa, staff):
    both = UserFactory(
        username="akp.arpnt-chef", agency=akpakpa, roles=[Role.ARPNT, Role.SUPERVISOR]
    )
    services.termination_request_report_field(classic, actor=both, **CUT)
    with pytest.raises(StepRefused) as refused:
        services.termination_request_approve_report(classic, actor=both)
    assert refused.value.message == SOD_REPORT
    # Nor may the agent who did the work sign it as the responsable, even when another
    # entered it (the database says so too).
    report = InterventionReport.objects.get(order__request=classic)
    with pytest.raises(IntegrityError), transaction.atomic():
        InterventionReport.objects.filter(pk=report.pk).update(
            signed_by=report.agent, signed_at=report.entered_at
        )


def test_a_report_entered_from_the_paper_waits_for_its_agents_signature(classic, akpakpa, staff):
    # The ARPNT agent cut and wrote the paper report; the reader enters it for them.
    report = services.termination_request_report_field(
        classic, actor=staff.reader, agent=staff.arpnt, **CUT
    )
    assert (report.agent, report.entered_by, report.agent_signed_at) == (
        staff.arpnt,
        staff.reader,
        None,
    )
    order = classic.orders.get()
    assert order.status == OrderStatus.UNSIGNED
    request = reload(classic)
    assert request.state == RequestState.FIELD_REPORTED
    event = request.events.get(action="report_field")
    assert event.data["entered_by"] == name(staff.reader)
    assert event.data["agent_signed"] is False

    # The supervisor waits: nothing in the queue, the signature refused with its reason.
    assert tasks(staff.supervisor, request) == []
    assert tasks(staff.arpnt, request) == ["Signer votre compte-rendu saisi d'après l'ordre papier"]
    with pytest.raises(StepRefused) as refused:
        services.termination_request_approve_report(request, actor=staff.supervisor)
    assert "attend d'abord la signature" in refused.value.message

    # Only that agent signs it as theirs.
    other = UserFactory(username="akp.arpnt2", agency=akpakpa, roles=[Role.ARPNT])
    for someone in (staff.reader, other):
        with pytest.raises(StepRefused) as refused:
            services.termination_request_agent_sign_report(request, actor=someone)
        assert "Seul" in refused.value.message
    copy = order_copy(request, staff)
    assert "Signature de l'agent de l'intervention" in copy and "attendue" in copy
    assert "Saisi d'après l'ordre papier par" in copy

    signed = services.termination_request_agent_sign_report(request, actor=staff.arpnt)
    assert (signed.agent_signed_via, OrderStatus.REPORTED) == (
        "web",
        request.orders.get().status,
    )
    assert request.events.get(action="agent_sign_report").step == 5
    assert tasks(staff.supervisor, request) == ["Contrôler et signer l'ordre de coupure"]
    with pytest.raises(StepRefused):
        services.termination_request_agent_sign_report(request, actor=staff.arpnt)  # once
    services.termination_request_approve_report(request, actor=staff.supervisor)
    assert reload(request).state == RequestState.REPORT_APPROVED
    journal = [describe(e, request) for e in request.events.order_by("id")]
    assert any(
        f"saisi par {name(staff.reader)} d'après l'ordre papier de {name(staff.arpnt)}, sa "
        "signature attendue" in line
        for line in journal
    ), journal
    assert any("signé par l'agent de l'intervention" in line for line in journal), journal
    assert any(line.endswith("contrôlé et signé ; ordre classé") for line in journal), journal
    # Signed once: the database refuses a second signature time.
    with pytest.raises(IntegrityError), transaction.atomic():
        InterventionReport.objects.filter(pk=report.pk).update(agent_signed_at=None)


def test_a_reading_alone_is_entered_by_its_agent(akpakpa, staff):
    request = create(worked_example_contract(akpakpa), staff)
    issue_and_sign(request, staff, timing=Timing.ANTICIPATED, cut_date=TODAY.replace(month=12))
    with pytest.raises(StepRefused) as refused:
        services.termination_request_report_field(
            request,
            actor=staff.reader,
            agent=staff.arpnt,
            index_read=12300,
            read_on=TODAY,
            cut_done=False,
            cut_index=None,
            remarks=[],
        )
    assert refused.value.message == interventions.READING_BY_ITS_AGENT


def test_only_a_field_agent_of_the_agency_is_named(classic, parakou, staff):
    outsider = UserFactory(username="pko.arpnt", agency=parakou, roles=[Role.ARPNT])
    for agent in (outsider, staff.cashier):
        with pytest.raises(StepRefused) as refused:
            services.termination_request_report_field(
                classic, actor=staff.reader, agent=agent, **CUT
            )
        assert refused.value.field == "agent"
    assert not InterventionReport.objects.exists()


def test_the_filed_order_and_its_signatures_on_the_page_and_the_copies(classic, staff, client):
    services.termination_request_report_field(classic, actor=staff.arpnt, **CUT)
    services.termination_request_approve_report(classic, actor=staff.supervisor)
    order = classic.orders.get()
    client.force_login(staff.reception)
    page = html.unescape(client.get(reverse("order_detail", args=[order.pk])).content.decode())
    assert "Ordre classé le" in page and "Classé le" in page
    assert "a signé le compte-rendu le" in page
    assert "Contrôlé et signé par le responsable" in page
    copy = order_copy(classic, staff)
    assert "ORDRE CLASSÉ le 30/11/2026" in copy
    assert "Signé par l'agent de l'intervention" in copy
    assert "Contrôlé et signé par le responsable" in copy
    detail = html.unescape(
        client.get(reverse("request_detail", args=[classic.pk])).content.decode()
    )
    assert "Classé le" in detail


def test_a_removal_report_entered_for_the_crew_is_signed_by_it(akpakpa, staff):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.REMOVAL_ORDERED
    )
    crew = UserFactory(username="akp.arpnt-equipe", agency=akpakpa, roles=[Role.ARPNT])
    services.termination_request_report_removal(
        request,
        actor=staff.arpnt,
        agent=crew,
        index_read=12300,
        read_on=TODAY,
        cut_done=True,
        remarks=[],
        safety_steps_confirmed=ALL_SAFETY_STEPS,
    )
    removal = request.orders.get(kind="removal")
    assert (removal.status, removal.assignee) == (OrderStatus.UNSIGNED, crew)
    assert tasks(crew, request) == ["Signer votre compte-rendu saisi d'après l'ordre papier"]
    with pytest.raises(StepRefused):
        services.termination_request_sign_removal(request, actor=staff.supervisor)
    services.termination_request_agent_sign_report(request, actor=crew)
    assert request.events.get(action="agent_sign_report").step == 9
    services.termination_request_sign_removal(request, actor=staff.supervisor)
    assert request.orders.get(kind="removal").status == OrderStatus.SIGNED


def test_a_report_from_the_agents_phone_is_signed_from_the_phone(classic, staff, client):
    client.force_login(staff.arpnt)
    fields = {**CUT, "read_on": TODAY.isoformat()}
    response = client.post(
        reverse("field_send"),
        {
            "id": str(uuid.uuid4()),
            "nature": "releve",
            "ordre": classic.orders.get().number,
            "champs": json.dumps(fields),
            "fait_le": "2026-11-30T10:15:00+01:00",
        },
    )
    assert response.json()["resultat"] == "accepted", response.json()
    report = InterventionReport.objects.get(order__request=classic)
    assert (report.agent, report.agent_signed_via) == (staff.arpnt, "phone")
    assert report.agent_signed_at is not None


def test_the_agent_signs_on_their_page(classic, staff, client):
    services.termination_request_report_field(classic, actor=staff.reader, agent=staff.arpnt, **CUT)
    url = reverse("request_agent_sign", args=[classic.pk])
    client.force_login(staff.reader)
    detail = client.get(reverse("request_detail", args=[classic.pk])).content.decode()
    assert url not in detail  # offered to the agent only
    # Opened by another field agent (who entered it, here): said at once, no form.
    other = html.unescape(client.get(url).content.decode())
    assert f"Seul {name(staff.arpnt)}, agent de l'intervention" in other
    assert "Signer mon compte-rendu" not in other
    client.post(url, {"action": "sign", "confirm": "on"})
    assert classic.orders.get().status == OrderStatus.UNSIGNED
    client.force_login(staff.arpnt)
    detail = html.unescape(
        client.get(reverse("request_detail", args=[classic.pk])).content.decode()
    )
    assert "Signer mon compte-rendu" in detail and "signature de l'agent attendue" in detail
    page = html.unescape(client.get(url).content.decode())
    assert "Ce compte-rendu est conforme à mon intervention" in page
    refused = client.post(url, {"action": "sign"})
    assert "Cochez la case pour signer." in html.unescape(refused.content.decode())
    done = client.post(url, {"action": "sign", "confirm": "on"})
    assert done.status_code == 302
    assert classic.orders.get().status == OrderStatus.REPORTED
    client.force_login(staff.supervisor)
    approve = html.unescape(
        client.get(reverse("request_approve_report", args=[classic.pk])).content.decode()
    )
    assert "Signer l'ordre de coupure" in approve


def test_the_agent_is_chosen_on_the_report_page(classic, staff, client):
    client.force_login(staff.reader)
    url = reverse("request_field_report", args=[classic.pk])
    page = html.unescape(client.get(url).content.decode())
    assert "Intervention faite par" in page and "Moi-même" in page
    name = staff.arpnt.get_full_name() or staff.arpnt.username
    assert name in page
    data = {
        "action": "report",
        "index_read": "12300",
        "read_on": TODAY.isoformat(),
        "cut_done": "on",
        "cut_index": "12300",
        "agent": str(staff.arpnt.pk),
        "confirm": "on",
    }
    assert client.post(url, data).status_code == 302
    report = InterventionReport.objects.get(order__request=classic)
    assert (report.agent, report.entered_by) == (staff.arpnt, staff.reader)


def test_the_agent_signs_from_the_phone_what_was_entered_for_them(classic, staff, client):
    report = services.termination_request_report_field(
        classic, actor=staff.reader, agent=staff.arpnt, **CUT
    )
    client.force_login(staff.arpnt)
    day = client.get(reverse("field_day")).json()
    (shown,) = day["a_signer"]
    assert (shown["numero"], shown["cr"], shown["index"], shown["coupure"]) == (
        classic.orders.get().number,
        report.pk,
        12300,
        12300,
    )
    assert shown["saisi_par"] == name(staff.reader)
    client.force_login(staff.reader)
    assert client.get(reverse("field_day")).json()["a_signer"] == []  # the agent's only

    def sign_from_phone(client_id, shown_report):
        return client.post(
            reverse("field_send"),
            {
                "id": client_id,
                "nature": "signe",
                "ordre": shown["numero"],
                "champs": json.dumps({"cr": shown_report}),
                "fait_le": "2026-11-30T11:00:00+01:00",
            },
        ).json()

    client.force_login(staff.arpnt)
    first = str(uuid.uuid4())
    answer = sign_from_phone(first, report.pk)
    assert answer["resultat"] == "accepted", answer
    report.refresh_from_db()
    assert (report.agent_signed_via, report.agent_signed_at is not None) == ("phone", True)
    assert classic.orders.get().status == OrderStatus.REPORTED
    assert sign_from_phone(first, report.pk)["deja_recu"] is True  # sent again: the same answer
    again = sign_from_phone(str(uuid.uuid4()), report.pk)
    assert again["resultat"] == "conflict" and "n'attend plus de signature" in again["message"]
    assert client.get(reverse("field_day")).json()["a_signer"] == []


def test_a_signature_from_the_phone_for_a_report_replaced_meanwhile_is_a_conflict(
    classic, staff, client
):
    old = services.termination_request_report_field(
        classic, actor=staff.reader, agent=staff.arpnt, **CUT
    )
    # While the phone is offline, the supervisor sends the report back and it is entered again.
    services.termination_request_send_back_field_report(
        classic, actor=staff.supervisor, reason="Index de coupure illisible."
    )
    services.termination_request_report_field(
        classic, actor=staff.reader, agent=staff.arpnt, **{**CUT, "cut_index": 12310}
    )
    client.force_login(staff.arpnt)
    answer = client.post(
        reverse("field_send"),
        {
            "id": str(uuid.uuid4()),
            "nature": "signe",
            "ordre": classic.orders.get().number,
            "champs": json.dumps({"cr": old.pk}),
        },
    ).json()
    assert answer["resultat"] == "conflict" and "remplacé" in answer["message"]
    assert classic.orders.get().status == OrderStatus.UNSIGNED  # the new one is not signed


def test_a_report_its_agent_cannot_sign_goes_back_from_the_supervisors_page(classic, staff, client):
    services.termination_request_report_field(classic, actor=staff.reader, agent=staff.arpnt, **CUT)
    client.force_login(staff.supervisor)
    url = reverse("request_approve_report", args=[classic.pk])
    page = html.unescape(client.get(url).content.decode())
    assert "attend d'abord la signature" in page and "Renvoyer pour correction" in page
    assert "Signer l'ordre de coupure" not in page  # nothing to sign yet
    sent = client.post(
        url,
        {
            "action": "send_back",
            "renvoi-reason": "L'agent est en congé : à ressaisir par l'agent désigné.",
            "renvoi-confirm": "on",
        },
    )
    assert sent.status_code == 302
    assert reload(classic).state == RequestState.ORDER_ISSUED
    order = classic.orders.get()
    assert order.status == OrderStatus.RETURNED
    assert order.reports.get().superseded_reason.startswith("L'agent est en congé")
