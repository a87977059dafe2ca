from django.http import Http404, HttpResponse
from django.shortcuts import render

from interventions.enums import SAFETY_STEPS, OrderKind
from interventions.models import IndexPhoto, InterventionOrder, InterventionReport


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
            "report": InterventionReport.objects.filter(order=order, superseded_at__isnull=True)
            .select_related("agent", "entered_by", "signed_by", "order")
            .first(),
            "safety_steps": SAFETY_STEPS,
            "is_removal": order.kind == OrderKind.REMOVAL,
        },
    )


def index_photo(request, pk: int):
    """The photo of the meter's display sent with a report from the field, as received."""
    photos = IndexPhoto.objects.select_related("submission__order")
    if not request.user.sees_all_agencies:
        photos = photos.filter(submission__order__agency_id=request.user.agency_id)
    photo = photos.filter(pk=pk).first()
    if photo is None:
        raise Http404("Photo introuvable.")
    response = HttpResponse(bytes(photo.content), content_type=photo.content_type)
    response["Cache-Control"] = "private, max-age=86400"
    return response
