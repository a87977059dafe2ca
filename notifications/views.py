"""The gateway's delivery reports (Infobip's JSON: {"results": [{"messageId", "status":
{"groupName"}}]}), on an address that carries a secret token: anybody else gets 403."""

import json

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notifications.services import delivery_report

DELIVERED = {"DELIVERED"}
FAILED = {"UNDELIVERABLE", "EXPIRED", "REJECTED"}


@csrf_exempt
@login_not_required
@require_POST
def delivery_reports(request, token: str):
    if not constant_time_compare(token, settings.SMS_CALLBACK_TOKEN):
        return HttpResponseForbidden("Jeton invalide.")
    try:
        results = json.loads(request.body)["results"]
    except (ValueError, KeyError, TypeError):
        return HttpResponse("Rapport illisible.", status=400)
    recorded = 0
    for result in results if isinstance(results, list) else []:
        status = (result.get("status") or {}) if isinstance(result, dict) else {}
        group = str(status.get("groupName", "")).upper()
        reference = str(result.get("messageId", ""))
        if not reference or group not in DELIVERED | FAILED:
            continue  # a pending report: the final one follows
        detail = str(status.get("description") or status.get("name") or group)
        if delivery_report(reference, delivered=group in DELIVERED, detail=detail):
            recorded += 1
    return JsonResponse({"recorded": recorded})
