"""What the field app shows a crew: its orders for the day (and the ones left from earlier
days), sorted by neighbourhood and address, with what it needs on site; and what it sent that
was refused or is in conflict."""

import re

from django.db.models import Q

from contracts.enums import Role
from contracts.models import User
from interventions.enums import (
    AWAITING_AGENT,
    FIELD_ORDER_KINDS,
    REMOVAL_ORDER_KINDS,
    OrderStatus,
    SubmissionOutcome,
)
from interventions.models import FieldSubmission, InterventionOrder, InterventionReport

WORK = {
    "interruption_reading": "Relever l'index et couper l'alimentation",
    "reading": "Relever l'index (résiliation anticipée : pas de coupure)",
    "removal": "Couper, relever l'index et déposer le compteur",
    "final_interruption": "Coupure définitive (MT) : relever l'index et poser un scellé",
}


def field_kinds(user: User) -> list[str]:
    kinds = []
    if user.has_role(Role.READER, Role.ARPNT):  # step 5 names both
        kinds += FIELD_ORDER_KINDS
    if user.has_role(Role.ARPNT):
        kinds += REMOVAL_ORDER_KINDS
    return kinds


def neighbourhood(address: str) -> str:
    """'Quartier Agbato, carré 12, Cotonou' -> 'Agbato' (the first part, without 'Quartier')."""
    first = address.split(",")[0].strip()
    return re.sub(r"^(quartier|qtier|qt)\.?\s+", "", first, flags=re.IGNORECASE)


def _open_orders(user: User):
    """The orders waiting for this crew's report: its own and the agency's unassigned ones."""
    return InterventionOrder.objects.filter(
        agency_id=user.agency_id, kind__in=field_kinds(user), status__in=AWAITING_AGENT
    ).filter(Q(assignee=user) | Q(assignee__isnull=True))


def day_order(user: User, number: str) -> InterventionOrder | None:
    return _open_orders(user).filter(number=number).first()


def day_orders(user: User) -> list[InterventionOrder]:
    orders = _open_orders(user).select_related(
        "request__contract__customer",
        "request__contract__meter",
        "request__contract__delivery_point",
        "request__contract__tariff_category",
    )
    return sorted(
        orders,
        key=lambda o: (
            neighbourhood(o.request.contract.delivery_point.address).lower(),
            o.request.contract.delivery_point.address.lower(),
            o.due_on,
            o.number,
        ),
    )


def reports_to_sign(user: User) -> list[InterventionReport]:
    """The reports entered for this agent from their paper orders, waiting for their signature."""
    return list(
        InterventionReport.objects.filter(
            agent=user,
            agent_signed_at__isnull=True,
            superseded_at__isnull=True,
            order__agency_id=user.agency_id,
            order__status=OrderStatus.UNSIGNED,
        )
        .select_related(
            "entered_by",
            "order__request__contract__customer",
            "order__request__contract__delivery_point",
        )
        .order_by("entered_at", "id")
    )


def open_submissions(user: User) -> list[FieldSubmission]:
    """What the agent sent that did not go through: refused or in conflict, latest first."""
    return list(
        FieldSubmission.objects.filter(
            agent=user, outcome__in=[SubmissionOutcome.REFUSED, SubmissionOutcome.CONFLICT]
        )
        .select_related("order")
        .order_by("-received_at")[:50]
    )
