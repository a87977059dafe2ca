"""What the field app sends: each report made on the phone with its own identifier (a UUID),
sent when the network allows, perhaps several times. The same identifier with the same content
is answered as the first time (never a second report); with other content it is refused. A
report is checked like one typed at the agency (role, agency, state, consistency of the
indexes), through the same forms and the same services; an order reassigned, cancelled or
already reported meanwhile makes a conflict, kept and shown to the crew and the supervisor."""

import dataclasses
import datetime as dt
import hashlib
import json
import uuid

from django.db import connection, transaction
from django.utils import timezone

from accounts.rules import StepRefused
from contracts.models import TerminationRequest, User
from interventions.enums import (
    AWAITING_AGENT,
    FIELD_ORDER_KINDS,
    OrderKind,
    OrderStatus,
    SignedVia,
    SubmissionKind,
    SubmissionOutcome,
)
from interventions.models import FieldSubmission, IndexPhoto, InterventionOrder, PhotoRule
from interventions.services import agent_roles
from procedure import services as procedure
from procedure.forms import (
    FailedVisitForm,
    FieldReportForm,
    FinalInterruptionReportForm,
    RemovalReportForm,
)

OTHER_CONTENT = (
    "Ce compte-rendu a déjà été reçu avec un autre contenu ({when}) : il n'est pas remplacé. "
    "S'il faut le corriger, voyez votre chef, qui peut le renvoyer pour correction."
)
NOT_YOURS = "Cet envoi a été fait par un autre agent : il n'est pas repris."
UNKNOWN_ORDER = "Aucun ordre {number} ne vous est confié dans votre agence."
WRONG_KIND = "Ce compte-rendu ne correspond pas à l'ordre {number} ({kind})."
CANCELLED = "L'ordre {number} a été annulé entre-temps : votre compte-rendu est conservé."
REASSIGNED = (
    "L'ordre {number} a été confié à {agent} entre-temps : votre compte-rendu est conservé et "
    "signalé à votre chef."
)
ALREADY_DONE = (
    "L'ordre {number} n'attend plus de compte-rendu ({status}) : le vôtre est conservé et "
    "signalé à votre chef."
)
PHOTO_REQUIRED = "La photo de l'index est exigée pour ce compte-rendu."
NOT_YOURS_TO_SIGN = "Le compte-rendu de l'ordre {number} n'attend pas votre signature."
SIGNED_ALREADY = "Le compte-rendu de l'ordre {number} n'attend plus de signature ({status})."
REPLACED = (
    "Le compte-rendu de l'ordre {number} a été renvoyé ou remplacé entre-temps : votre "
    "signature n'est pas reprise ; voyez votre chef."
)
PHOTO_TOO_BIG = "La photo dépasse 2 Mo : reprenez-la."
PHOTO_NOT_IMAGE = "Le fichier joint n'est pas une photo (JPEG, PNG ou WebP)."
PHOTO_MAX = 2 * 1024 * 1024
PHOTO_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG": "image/png", b"RIFF": "image/webp"}

FORMS = {
    SubmissionKind.FIELD_REPORT: FieldReportForm,
    SubmissionKind.FAILED_VISIT: FailedVisitForm,
}


class ReplayRefused(StepRefused):
    """An identifier already used, for other content or by another agent (answered 409)."""


def report_kind(order: InterventionOrder) -> str:
    """The report an order takes from the field (besides a failed visit)."""
    if order.kind in FIELD_ORDER_KINDS:
        return SubmissionKind.FIELD_REPORT
    return SubmissionKind.REMOVAL_REPORT


@dataclasses.dataclass(frozen=True)
class Answer:
    """What the phone is told about one of its reports."""

    client_id: str
    outcome: str
    message: str
    received_at: dt.datetime
    again: bool  # the identifier was already known: this is the first answer, given again

    def as_json(self) -> dict:
        return {
            "id": self.client_id,
            "resultat": self.outcome,
            "libelle": SubmissionOutcome(self.outcome).label,
            "message": self.message,
            "recu_le": timezone.localtime(self.received_at).strftime("%d/%m/%Y %H:%M"),
            "deja_recu": self.again,
        }


def content_digest(payload: dict, photo: bytes | None) -> str:
    """The SHA-256 of what was sent: the fields in a canonical order, and the photo's bytes."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode())
    if photo:
        digest.update(b"\x00photo\x00" + hashlib.sha256(photo).digest())
    return digest.hexdigest()


def _answer(submission: FieldSubmission, *, again: bool) -> Answer:
    return Answer(
        str(submission.client_id),
        submission.outcome,
        submission.message,
        submission.received_at,
        again,
    )


def _photo_type(photo: bytes) -> str | None:
    for magic, content_type in PHOTO_TYPES.items():
        if photo.startswith(magic):
            return content_type
    return None


def _form_for(kind: str, order: InterventionOrder):
    if kind == SubmissionKind.REMOVAL_REPORT:
        return (
            FinalInterruptionReportForm
            if order.kind == OrderKind.FINAL_INTERRUPTION
            else (RemovalReportForm)
        )
    return FORMS[kind]


def _conflict(order: InterventionOrder, actor: User) -> str | None:
    """Why the order is no longer the agent's to report, if it is not."""
    if order.status == OrderStatus.CANCELLED:
        return CANCELLED.format(number=order.number)
    if order.assignee_id is not None and order.assignee_id != actor.pk:
        agent = order.assignee.display_name
        return REASSIGNED.format(number=order.number, agent=agent)
    if order.status not in AWAITING_AGENT:
        return ALREADY_DONE.format(number=order.number, status=order.get_status_display().lower())
    return None


def _enter(kind: str, order: InterventionOrder, actor: User, data: dict):
    """The report or the failed visit, through the procedure's own service."""
    request = order.request
    if kind == SubmissionKind.FAILED_VISIT:
        return None, procedure.termination_request_record_failed_visit(request, actor=actor, **data)
    # Sent from the agent's own phone with their login: the report is theirs, signed.
    data = {**data, "agent": None, "via": SignedVia.PHONE}
    if kind == SubmissionKind.FIELD_REPORT:
        return procedure.termination_request_report_field(request, actor=actor, **data), None
    return procedure.termination_request_report_removal(request, actor=actor, **data), None


def _signature_conflict(order: InterventionOrder, actor: User, shown) -> str | None:
    """Why the report the agent signed on the phone is no longer theirs to sign, if it is not."""
    report = order.reports.filter(superseded_at__isnull=True).first()
    if report is None or str(report.pk) != str(shown):
        return REPLACED.format(number=order.number)
    if report.agent_id != actor.pk:
        return NOT_YOURS_TO_SIGN.format(number=order.number)
    if order.status != OrderStatus.UNSIGNED:
        status = order.get_status_display().lower()
        return SIGNED_ALREADY.format(number=order.number, status=status)
    return None


def _sign(order: InterventionOrder, actor: User, fields: dict) -> tuple[str, str, dict]:
    """The agent signs, from the phone, the report entered for them from their paper order,
    as it was shown to them (its identifier): the outcome, its message, what it made."""
    if conflict := _signature_conflict(order, actor, fields.get("cr")):
        return SubmissionOutcome.CONFLICT, conflict, {}
    try:
        with transaction.atomic():
            signed = procedure.termination_request_agent_sign_report(
                order.request, actor=actor, via=SignedVia.PHONE
            )
    except StepRefused as refusal:
        return SubmissionOutcome.REFUSED, refusal.message, {}
    return SubmissionOutcome.ACCEPTED, "", {"signed_report": signed}


def _report(
    kind: str, order: InterventionOrder, actor: User, fields: dict, photo: bytes | None
) -> tuple[str, str, dict]:
    """A report or a failed visit, checked like one typed at the agency: the outcome, its
    message, what it made."""
    if conflict := _conflict(order, actor):
        return SubmissionOutcome.CONFLICT, conflict, {}
    if (
        kind != SubmissionKind.FAILED_VISIT
        and not photo
        and PhotoRule.objects.filter(kind=kind, required=True).exists()
    ):
        return SubmissionOutcome.REFUSED, PHOTO_REQUIRED, {}
    form_class = _form_for(kind, order)
    typed = {**fields, "confirm": "on"}
    if form_class is FailedVisitForm:
        typed = {f"visite-{k}": v for k, v in typed.items()}
    form_kwargs = {}
    if form_class is FieldReportForm and order.kind == OrderKind.READING:
        form_kwargs["reading_only"] = True
    form = form_class(typed, **form_kwargs)
    if not form.is_valid():
        return (
            SubmissionOutcome.REFUSED,
            " ".join(
                f"{form.fields[f].label if f in form.fields else ''} : {' '.join(e)}".lstrip(" :")
                for f, e in form.errors.items()
            ),
            {},
        )
    data = {k: v for k, v in form.cleaned_data.items() if k != "confirm"}
    try:
        with transaction.atomic():
            report, attempt = _enter(kind, order, actor, data)
    except StepRefused as refusal:
        return SubmissionOutcome.REFUSED, refusal.message, {}
    return SubmissionOutcome.ACCEPTED, "", {"report": report, "attempt": attempt}


@transaction.atomic
def submission_receive(
    *,
    actor: User,
    client_id: str,
    kind: str,
    order_number: str,
    fields: dict,
    made_at: dt.datetime | None = None,
    position: tuple[float, float, int | None] | None = None,
    photo: bytes | None = None,
) -> Answer:
    """One report from the phone, once. Raises StepRefused for what cannot even be kept (an
    identifier that is not one, another agent's identifier, an order that is not theirs, an
    unreadable photo); otherwise the answer is stored with what was sent and given again for
    the same identifier."""
    try:
        client_uuid = uuid.UUID(str(client_id))
    except ValueError:
        raise StepRefused("Identifiant d'envoi illisible.") from None
    if kind not in SubmissionKind.values:
        raise StepRefused("Nature de compte-rendu inconnue.")
    payload = {"nature": kind, "ordre": order_number, "champs": fields}
    digest = content_digest(payload, photo)
    with connection.cursor() as cursor:  # one identifier at a time, across processes
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [client_uuid.int % 2**63])
    known = FieldSubmission.objects.filter(client_id=client_uuid).first()
    if known is not None:
        if known.agent_id != actor.pk:
            raise ReplayRefused(NOT_YOURS)
        if known.payload_sha256 != digest:
            when = timezone.localtime(known.received_at).strftime("reçu le %d/%m/%Y à %H:%M")
            raise ReplayRefused(OTHER_CONTENT.format(when=when))
        return _answer(known, again=True)

    found = InterventionOrder.objects.filter(
        number=order_number, agency_id=actor.agency_id
    ).values_list("request_id", flat=True)
    if not found:
        raise StepRefused(UNKNOWN_ORDER.format(number=order_number))
    # The request, then its order: the order in which the procedure's services lock them.
    TerminationRequest.objects.select_for_update().filter(pk=found[0]).first()
    order = (
        InterventionOrder.objects.select_for_update(of=("self",))
        .select_related("request", "assignee")
        .get(number=order_number)
    )
    if not actor.has_role(*agent_roles(order)):
        raise StepRefused(UNKNOWN_ORDER.format(number=order_number))
    if kind not in (report_kind(order), SubmissionKind.FAILED_VISIT, SubmissionKind.SIGNATURE):
        raise StepRefused(WRONG_KIND.format(number=order.number, kind=order.get_kind_display()))
    if kind == SubmissionKind.SIGNATURE:
        photo = None  # a signature carries none: nothing to keep
    content_type = None
    if photo:
        if len(photo) > PHOTO_MAX:
            raise StepRefused(PHOTO_TOO_BIG)
        content_type = _photo_type(photo)
        if content_type is None:
            raise StepRefused(PHOTO_NOT_IMAGE)

    if kind == SubmissionKind.SIGNATURE:
        outcome, message, made = _sign(order, actor, fields)
    else:
        outcome, message, made = _report(kind, order, actor, fields, photo)
    latitude, longitude, accuracy = position if position else (None, None, None)
    submission = FieldSubmission.objects.create(
        client_id=client_uuid,
        agent=actor,
        order=order,
        kind=kind,
        payload=payload,
        payload_sha256=digest,
        made_at=made_at,
        latitude=latitude,
        longitude=longitude,
        accuracy_m=accuracy,
        outcome=outcome,
        message=message[:500],
        **made,
    )
    # A report that came too late is the supervisor's to examine; a signature that came too
    # late is not (the report it signed was sent back, or signed already).
    if outcome == SubmissionOutcome.CONFLICT and kind != SubmissionKind.SIGNATURE:
        procedure.termination_request_record_field_conflict(
            order.request, actor=actor, order=order, message=message
        )
    if photo:
        IndexPhoto.objects.create(
            submission=submission,
            content=photo,
            content_type=content_type,
            sha256=hashlib.sha256(photo).hexdigest(),
            size=len(photo),
        )
    return _answer(submission, again=False)
