from django.http import Http404
from django.shortcuts import render

from interventions.enums import SAFETY_STEPS, OrderKind
from interventions.models import InterventionOrder


def order_detail(request, pk: int):
    """The printable intervention order."""
    qs = InterventionOrder.objects.select_related(
        "request__contract__customer",
        "request__contract__meter",
        "request__contract__delivery_point",
        "agency",
        "assignee",
    )
    if not request.user.sees_all_agencies:
        qs = qs.filter(agency_id=request.user.agency_id)
    try:
        order = qs.get(pk=pk)
    except InterventionOrder.DoesNotExist:
        raise Http404("Ordre introuvable.") from None
    return render(
        request,
        "interventions/order.html",
        {
            "order": order,
            "req": order.request,
            "safety_steps": SAFETY_STEPS,
            "is_removal": order.kind == OrderKind.REMOVAL,
        },
    )
