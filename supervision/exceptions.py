"""The controller's exceptions (DIG/DAI): what an auditor looks at first. Each is a list over a
period and a scope, with its count; the page shows every count, each a link to its list."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay
from django.utils import timezone

from billing.enums import DocumentKind, SettlementKind, TransferKind
from billing.models import (
    AccountTransfer,
    CreditNote,
    DocumentPrint,
    RefundAuthorisation,
    Settlement,
)
from contracts.enums import RequestState, SecurityEventKind
from contracts.models import SecurityEvent, TerminationEvent, User
from interventions.models import InterventionReport, VisitAttempt
from supervision.scope import Scope
from supervision.selectors import local_midnight


def _who(user) -> str:
    return user.display_name if user else "système"


def _when(value) -> str:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y") if value else ""


@dataclass(frozen=True)
class Cell:
    text: str
    url_name: str = ""  # a page of the application, with `arg`
    arg: object = None
    number: bool = False


@dataclass(frozen=True)
class Item:
    code: str
    title: str
    explanation: str
    rows: Callable[[Scope, dt.datetime | None, dt.datetime | None], QuerySet]
    headers: list[str]
    cells: Callable[[object], list[Cell]]
    count: Callable[[QuerySet], int] = lambda qs: qs.count()


def _period(qs: QuerySet, column: str, start, end) -> QuerySet:
    if start:
        qs = qs.filter(**{f"{column}__gte": start})
    if end:
        qs = qs.filter(**{f"{column}__lt": end})
    return qs


def _request_cell(request_id: int | None) -> Cell:
    return Cell(str(request_id), "request_detail", request_id) if request_id else Cell("—")


def _refunds_to_others(scope, start, end):
    return _period(
        Settlement.objects.filter(
            scope.q(), kind=SettlementKind.REFUND, refund_authorisation__isnull=False
        ).select_related("agency", "cashier", "contract__customer", "invoice"),
        "created_at",
        start,
        end,
    ).order_by("-created_at", "-id")


def _authorisations(scope, start, end):
    return _period(
        RefundAuthorisation.objects.filter(scope.q("invoice__contract__agency")).select_related(
            "invoice__contract__customer", "authorised_by"
        ),
        "authorised_at",
        start,
        end,
    ).order_by("-authorised_at", "-id")


def _late_cancellations(scope, start, end):
    return _period(
        TerminationEvent.objects.filter(
            scope.q("request__agency"),
            action="cancel",
            from_state=RequestState.ORDER_ISSUED,
        ).select_related("request__contract", "actor"),
        "at",
        start,
        end,
    ).order_by("-at", "-id")


def _confirmations(scope, start, end):
    return _period(
        InterventionReport.objects.filter(
            scope.q("order__agency"),
            Q(rollover_confirmed=True) | Q(high_consumption_confirmed=True),
        ).select_related("order__request__contract", "entered_by", "signed_by"),
        "entered_at",
        start,
        end,
    ).order_by("-entered_at", "-id")


def _duplicates(scope, start, end):
    return _period(
        DocumentPrint.objects.filter(copy__gte=1)
        .filter(
            (
                Q(document__kind=DocumentKind.INVOICE)
                & scope.q("document__invoice__contract__agency")
            )
            | (
                Q(
                    document__kind=DocumentKind.RECEIPT,
                    document__settlement__kind=SettlementKind.REFUND,
                )
                & scope.q("document__settlement__agency")
            )
        )
        .select_related("document", "printed_by"),
        "printed_at",
        start,
        end,
    ).order_by("-printed_at", "-id")


def _per_agent(scope, start, end):
    """Agents with the count of their reports sent back and of their failed visits."""
    sent_back = _period(
        InterventionReport.objects.filter(superseded_at__isnull=False), "superseded_at", start, end
    )
    failed = _period(VisitAttempt.objects.all(), "entered_at", start, end)
    return (
        User.objects.filter(scope.q())
        .annotate(n_sent_back=_count_sub(sent_back), n_failed=_count_sub(failed))
        .filter(Q(n_sent_back__gt=0) | Q(n_failed__gt=0))
        .select_related("agency")
        .order_by("-n_sent_back", "-n_failed", "username")
    )


def _count_sub(qs: QuerySet):
    counted = (
        qs.filter(entered_by_id=OuterRef("pk"))
        .order_by()
        .values("entered_by_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _credit_notes(scope, start, end):
    return _period(
        CreditNote.objects.filter(scope.q("contract__agency")).select_related(
            "invoice", "created_by", "contract"
        ),
        "created_at",
        start,
        end,
    ).order_by("-created_at", "-id")


def _recovery(scope, start, end):
    start_day = timezone.localtime(start).date() if start else None
    end_day = timezone.localtime(end).date() if end else None
    qs = AccountTransfer.objects.filter(scope.q(), kind=TransferKind.RECOVERY).select_related(
        "agency", "invoice", "contract__customer"
    )
    if start_day:
        qs = qs.filter(transferred_on__gte=start_day)
    if end_day:
        qs = qs.filter(transferred_on__lt=end_day)
    return qs.order_by("-transferred_on", "-id")


def outside_working_hours() -> Q:
    first, last = settings.WORKING_HOURS
    days = [d + 1 for d in settings.WORKING_DAYS]  # ISO: Monday is 1
    return ~Q(local_day__in=days) | Q(local_hour__lt=first) | Q(local_hour__gte=last)


def _night_logins(scope, start, end):
    zone = timezone.get_default_timezone()
    return _period(
        SecurityEvent.objects.filter(scope.q("user__agency"), kind=SecurityEventKind.LOGIN)
        .annotate(
            local_hour=ExtractHour("at", tzinfo=zone),
            local_day=ExtractIsoWeekDay("at", tzinfo=zone),
        )
        .filter(outside_working_hours())
        .select_related("user__agency"),
        "at",
        start,
        end,
    ).order_by("-at", "-id")


def _duties(scope, start, end):
    return _period(
        SecurityEvent.objects.filter(
            scope.q("user__agency"), kind=SecurityEventKind.DUTIES_REFUSED
        ).select_related("user__agency"),
        "at",
        start,
        end,
    ).order_by("-at", "-id")


ITEMS = [
    Item(
        "remboursements-tiers",
        "Remboursements payés à un autre que le titulaire",
        "Dépôts de garantie remboursés sur autorisation, à une autre personne que celle qui les "
        "avait versés.",
        _refunds_to_others,
        ["Reçu", "Le", "Agence", "Contrat", "Bénéficiaire", "Montant (FCFA)", "Caissier"],
        lambda s: [
            Cell(s.number, "receipt", s.pk),
            Cell(_when(s.created_at)),
            Cell(s.agency.name),
            Cell(s.contract.number, "contract_detail", s.contract.number),
            Cell(s.beneficiary_name),
            Cell(str(s.amount), number=True),
            Cell(_who(s.cashier)),
        ],
    ),
    Item(
        "exceptions-remboursement",
        "Exceptions de remboursement autorisées",
        "Autorisations du chef de section de rembourser un autre bénéficiaire.",
        _authorisations,
        ["Facture", "Le", "Client", "Bénéficiaire", "Qualité", "Justificatif", "Autorisé par"],
        lambda a: [
            Cell(a.invoice.number, "invoice_detail", a.invoice_id),
            Cell(_when(a.authorised_at)),
            Cell(a.invoice.contract.customer.name),
            Cell(a.beneficiary_name),
            Cell(a.get_quality_display()),
            Cell(a.proof_reference),
            Cell(_who(a.authorised_by)),
        ],
    ),
    Item(
        "annulations-apres-ordre",
        "Annulations après l'émission de l'ordre",
        "Demandes annulées alors que l'ordre d'intervention était émis.",
        _late_cancellations,
        ["Demande", "Contrat", "Annulée le", "Par", "Motif"],
        lambda e: [
            _request_cell(e.request_id),
            Cell(e.request.contract.number, "contract_detail", e.request.contract.number),
            Cell(_when(e.at)),
            Cell(_who(e.actor)),
            Cell(e.data.get("reason", "") or e.request.cancel_reason),
        ],
    ),
    Item(
        "confirmations-index",
        "Forte consommation et passage par zéro confirmés",
        "Comptes-rendus dont l'index a dû être confirmé par l'agent.",
        _confirmations,
        ["Ordre", "Demande", "Index", "Passage par zéro", "Forte consommation", "Saisi par", "Le"],
        lambda r: [
            Cell(r.order.number),
            _request_cell(r.order.request_id),
            Cell(str(r.index_read), number=True),
            Cell("oui" if r.rollover_confirmed else "non"),
            Cell("oui" if r.high_consumption_confirmed else "non"),
            Cell(_who(r.entered_by)),
            Cell(_when(r.entered_at)),
        ],
    ),
    Item(
        "duplicatas",
        "Réimpressions de factures et de bons de remboursement (DUPLICATA)",
        "Chaque exemplaire imprimé après l'original.",
        _duplicates,
        ["Document", "N°", "Exemplaire", "Imprimé par", "Le"],
        lambda p: [
            Cell(p.document.get_kind_display()),
            Cell(p.document.number, "document_consultation", p.document_id),
            Cell(f"DUPLICATA n° {p.copy}"),
            Cell(_who(p.printed_by)),
            Cell(_when(p.printed_at)),
        ],
    ),
    Item(
        "renvois-visites",
        "Renvois pour correction et visites infructueuses, par agent",
        "Comptes-rendus renvoyés par le chef de section, et visites sans intervention possible.",
        _per_agent,
        ["Agent", "Agence", "Comptes-rendus renvoyés", "Visites infructueuses"],
        lambda u: [
            Cell(_who(u)),
            Cell(u.agency.name),
            Cell(str(u.n_sent_back), number=True),
            Cell(str(u.n_failed), number=True),
        ],
    ),
    Item(
        "avoirs",
        "Avoirs",
        "Factures annulées par avoir.",
        _credit_notes,
        ["Avoir", "Facture annulée", "Contrat", "Le", "Motif", "Montant (FCFA)", "Par"],
        lambda c: [
            Cell(c.number),
            Cell(c.invoice.number, "invoice_detail", c.invoice_id),
            Cell(c.contract.number, "contract_detail", c.contract.number),
            Cell(_when(c.created_at)),
            Cell(c.reason),
            Cell(str(c.total), number=True),
            Cell(_who(c.created_by)),
        ],
    ),
    Item(
        "recouvrement",
        "Transferts au recouvrement",
        "Soldes impayés à l'échéance, transférés à l'apurement des comptes.",
        _recovery,
        ["Facture", "Agence", "Client", "Montant (FCFA)", "En attente depuis", "Transféré le"],
        lambda t: [
            Cell(t.invoice.number, "invoice_detail", t.invoice_id),
            Cell(t.agency.name),
            Cell(t.contract.customer.name),
            Cell(str(t.amount), number=True),
            Cell(_when(t.since)),
            Cell(_when(t.transferred_on)),
        ],
    ),
    Item(
        "connexions-hors-heures",
        "Connexions en dehors des heures de travail",
        "Connexions réussies avant {} h, après {} h ou le dimanche (heure du Bénin).".format(
            *settings.WORKING_HOURS
        ),
        _night_logins,
        ["Le", "Compte", "Agence", "Adresse"],
        lambda e: [
            Cell(_when(e.at)),
            Cell(e.user.username if e.user else e.username),
            Cell(e.user.agency.name if e.user else ""),
            Cell(e.ip_address or ""),
        ],
    ),
    Item(
        "separation-taches",
        "Tentatives refusées pour séparation des tâches",
        "Un agent a tenté de faire la seconde moitié d'une tâche dont il avait fait la première.",
        _duties,
        ["Le", "Compte", "Agence", "Action", "Motif"],
        lambda e: [
            Cell(_when(e.at)),
            Cell(e.user.username if e.user else e.username),
            Cell(e.user.agency.name if e.user else ""),
            Cell(e.data.get("action", "")),
            Cell(e.data.get("motif", "")),
        ],
    ),
]
BY_CODE = {item.code: item for item in ITEMS}


def period_bounds(data: dict) -> tuple[dt.datetime | None, dt.datetime | None]:
    start = local_midnight(data["du"]) if data.get("du") else None
    end = local_midnight(data["au"] + dt.timedelta(days=1)) if data.get("au") else None
    return start, end
