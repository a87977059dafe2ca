"""The read-only JSON API for the billing system (django-ninja; schema at
/api/v1/openapi.json). A token per system, sent as `Authorization: Bearer <token>`; every call is
logged (handoff.models.ApiCall). Records are read from a cursor: the same cursor gives the same
records, and nothing moves until the system acknowledges what it took."""

import logging

from django.db import DatabaseError, transaction
from ninja import Field, NinjaAPI, Query, Schema, Status
from ninja.security import HttpBearer

from handoff.models import ReceivingSystem
from handoff.selectors import as_dict, records_after
from handoff.services import acknowledge, api_call_log, system_for_token

logger = logging.getLogger(__name__)

MAX_LIMIT = 500
# A record's number is a PostgreSQL bigint.
MAX_RECORD = 2**63 - 1


class SystemToken(HttpBearer):
    def authenticate(self, request, token):
        return system_for_token(token)


class ApiCallLogMiddleware:
    """Every call of the API is in the call log with the status it got: answered, refused by
    the token, the schema or a rule (4xx), too large (413, refused before this one's inner
    layers read it) or failed (5xx). Written after the answer, outside any transaction."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/api/"):
            system = getattr(request, "auth", None)
            try:
                api_call_log(
                    request,
                    system=system if isinstance(system, ReceivingSystem) else None,
                    status=response.status_code,
                )
            except DatabaseError:
                logger.exception("appel de l'API non journalisé : %s", request.path)
        return response


class Record(Schema):
    id: int
    nature: str
    agence: str
    contrat: str
    ecrit_le: str
    contenu: dict


class Page(Schema):
    enregistrements: list[Record]
    suivant: int | None  # the cursor for the next page; None when there is nothing after


class AckIn(Schema):
    jusqu_a: int = Field(ge=1, le=MAX_RECORD, description="Le numéro d'un enregistrement lu.")


class AckOut(Schema):
    jusqu_a: int
    le: str


class Refusal(Schema):
    detail: str


class InvalidRequest(Schema):
    """A parameter or a body that the schema refuses (django-ninja's own answer)."""

    detail: list[dict]


# What every call may answer besides its own result: no or a wrong token, a body too large
# (refused before it is read), a parameter or body outside the schema.
REFUSALS = {401: Refusal, 413: Refusal, 422: InvalidRequest}


api = NinjaAPI(
    title="SBEE résiliation : codifications pour le système de facturation",
    version="1",
    urls_namespace="handoff_api",
    auth=SystemToken(),
    docs_url=None,
)


@api.get(
    "/codifications",
    response={200: Page, **REFUSALS},
    summary="Les enregistrements après un curseur",
)
def codifications(
    request,
    apres: int = Query(0, ge=0, le=MAX_RECORD, description="Le curseur : 0 au début."),
    limite: int = Query(100, ge=1, le=MAX_LIMIT, description="500 au plus."),
):
    limit = limite
    records = [as_dict(r) for r in records_after(apres, limit)]
    for record in records:
        record["ecrit_le"] = str(record["ecrit_le"])
    return {
        "enregistrements": records,
        "suivant": records[-1]["id"] if len(records) == limit else None,
    }


@api.post(
    "/acquittements",
    response={200: AckOut, 400: Refusal, 409: Refusal, **REFUSALS},
    summary="Accuser réception de tout jusqu'à un numéro",
)
def acknowledgement(request, body: AckIn):
    try:
        with transaction.atomic():
            ack = acknowledge(request.auth, body.jusqu_a)
    except ValueError as error:
        # A number the outbox has not reached yet: nothing to acknowledge up to it.
        return Status(409, {"detail": str(error)})
    return Status(200, {"jusqu_a": ack.up_to, "le": ack.at.isoformat()})


def urlpatterns():
    """The API's addresses, open without a session (the token is the login)."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback.login_required = False
    return patterns, app_name, namespace
