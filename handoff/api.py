"""The read-only JSON API for the billing system (django-ninja; schema at
/api/v1/openapi.json). A token per system, sent as `Authorization: Bearer <token>`; every call is
logged (handoff.models.ApiCall). Records are read from a cursor: the same cursor gives the same
records, and nothing moves until the system acknowledges what it took."""

from django.db import transaction
from ninja import NinjaAPI, Schema, Status
from ninja.security import HttpBearer

from handoff.selectors import as_dict, records_after
from handoff.services import acknowledge, api_call_log, system_for_token

MAX_LIMIT = 500


class SystemToken(HttpBearer):
    def __call__(self, request):
        system = super().__call__(request)
        scheme = request.headers.get("Authorization", "").split(" ")[0].lower()
        if system is None and scheme != "bearer":
            api_call_log(request, system=None, status=401)  # no token at all: logged too
        return system

    def authenticate(self, request, token):
        system = system_for_token(token)
        if system is None:
            api_call_log(request, system=None, status=401)
        return system


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
    jusqu_a: int


class AckOut(Schema):
    jusqu_a: int
    le: str


class Refusal(Schema):
    detail: str


api = NinjaAPI(
    title="SBEE résiliation : codifications pour le système de facturation",
    version="1",
    urls_namespace="handoff_api",
    auth=SystemToken(),
    docs_url=None,
)


@api.get("/codifications", response=Page, summary="Les enregistrements après un curseur")
def codifications(request, apres: int = 0, limite: int = 100):
    limit = max(1, min(limite, MAX_LIMIT))
    records = [as_dict(r) for r in records_after(max(apres, 0), limit)]
    for record in records:
        record["ecrit_le"] = str(record["ecrit_le"])
    api_call_log(request, system=request.auth, status=200)
    return {
        "enregistrements": records,
        "suivant": records[-1]["id"] if len(records) == limit else None,
    }


@api.post(
    "/acquittements",
    response={200: AckOut, 400: Refusal},
    summary="Accuser réception de tout jusqu'à un numéro",
)
def acknowledgement(request, body: AckIn):
    try:
        with transaction.atomic():
            ack = acknowledge(request.auth, body.jusqu_a)
    except ValueError as error:
        api_call_log(request, system=request.auth, status=400)
        return Status(400, {"detail": str(error)})
    api_call_log(request, system=request.auth, status=200)
    return Status(200, {"jusqu_a": ack.up_to, "le": ack.at.isoformat()})


def urlpatterns():
    """The API's addresses, open without a session (the token is the login)."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback.login_required = False
    return patterns, app_name, namespace
