"""Every form each role can reach, sent random values (the fields the page draws, with hostile
values, missing or repeated): never a server error. The values are drawn from a fixed seed, so a
failure is reproduced by running the test again."""

import random
import re

import pytest
from django.test import Client
from django.urls import reverse

from contracts.enums import Role
from tests.factories import UserFactory
from tests.test_matrix import ACTIONS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

TRIES = 12
HOSTILE = [
    "",
    " ",
    "0",
    "-1",
    "1.5",
    "1e309",
    "NaN",
    "9223372036854775808",
    "99999999999999999999999999",
    "2026-02-31",
    "31/12/9999",
    "0000-00-00",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    '"; DROP TABLE contracts_contract; --',
    "\x00",
    "a\x00b",
    "é" * 5000,
    "x" * 100_000,
    "١٢٣",
    "🙂",
    "../../etc/passwd",
    "%s%s%s%n",
    "on",
    "true",
    "None",
    "[]",
    "{}",
]

FIELD = re.compile(r'<(?:input|select|textarea)\b[^>]*\bname="([^"]+)"', re.S)
ACTION = re.compile(r'<button\b[^>]*\bname="action"[^>]*\bvalue="([^"]+)"', re.S)
OPTION = re.compile(r'<option\b[^>]*\bvalue="([^"]*)"', re.S)


def form_fields(html: str) -> tuple[set[str], list[str], list[str]]:
    """The field names a page draws inside its forms, its "action" buttons, its options."""
    fields = set(FIELD.findall(html)) - {"csrfmiddlewaretoken"}
    return fields, ACTION.findall(html), OPTION.findall(html)


def random_post(rng: random.Random, fields, actions, options) -> dict:
    data = {}
    for name in fields:
        roll = rng.random()
        if roll < 0.1:
            continue  # missing
        pool = HOSTILE + options if options and rng.random() < 0.5 else HOSTILE
        if roll < 0.2:
            data[name] = [rng.choice(pool), rng.choice(pool)]  # repeated
        else:
            data[name] = rng.choice(pool)
    if actions:
        data["action"] = rng.choice([*actions, "inconnue"])
    return data


def fuzz(client, url, rng, *, method="post") -> list[int]:
    page = client.get(url)
    if page.status_code != 200:
        return []
    fields, actions, options = form_fields(page.content.decode())
    statuses = []
    for _ in range(TRIES):
        data = random_post(rng, fields, actions, options)
        response = client.post(url, data) if method == "post" else client.get(url, data)
        assert response.status_code < 500, (url, data)
        statuses.append(response.status_code)
    return statuses


@pytest.mark.parametrize("action", ACTIONS)
def test_each_step_form_sent_random_values_by_every_role_never_fails(
    action, akpakpa, staff, client
):
    allowed, scene = ACTIONS[action]
    url, _ = scene(akpakpa, staff)
    rng = random.Random(action)
    reached = 0
    for role in Role.values:
        client.force_login(UserFactory(username=f"fuzz-{role}", agency=akpakpa, roles=[role]))
        statuses = fuzz(client, url, rng)  # each answer under 500, or it fails there
        if role in allowed:
            reached += len(statuses)
    if action not in ("document_print", "document_regenerate"):  # POST-only: no page to read
        assert reached, "the right role never reached the form"


@pytest.mark.parametrize(
    "role,name,method",
    [
        (Role.RECEPTION, "contract_search", "get"),
        (Role.AUDITOR, "request_list", "get"),
        (Role.MANAGER, "request_list", "get"),
        (Role.AUDITOR, "dashboard", "get"),
        (Role.AUDITOR, "cash_journal", "get"),
        (Role.MANAGER, "cash_journal", "get"),
        (Role.AUDITOR, "exceptions", "get"),
        (Role.AUDITOR, "security_events", "get"),
        (Role.RECEPTION, "password_change", "post"),
        (Role.CASHIER, "cash_desk", "get"),
        (Role.SUPERVISOR, "to_clear", "get"),
    ],
)
def test_the_other_forms_sent_random_values_never_fail(role, name, method, akpakpa, client):
    client.force_login(UserFactory(username=f"fuzz-{role}", agency=akpakpa, roles=[role]))
    assert fuzz(client, reverse(name), random.Random(name), method=method)


def test_the_login_and_second_factor_forms_sent_random_values_never_fail(akpakpa, client):
    rng = random.Random("login")
    assert fuzz(client, reverse("login"), rng)
    UserFactory(username="fuzz-caisse", agency=akpakpa, roles=[Role.CASHIER])
    # From another address: the random logins above have locked this one out.
    other = Client(REMOTE_ADDR="10.0.0.2")
    response = other.post(
        reverse("login"), {"username": "fuzz-caisse", "password": "mot-de-passe-solide-42"}
    )
    assert response.status_code == 302
    assert fuzz(other, reverse("second_factor"), rng)
