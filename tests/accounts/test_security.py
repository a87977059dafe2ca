"""Logins against guessing and insiders (DESIGN §11): throttling per user name and per address,
the second factor of the cashier, supervisor, auditor and admin, the security events the
auditors read, the admin's separation of duties, the headers and the production settings."""

import base64
import datetime as dt
import html
import logging
import os
import re
import secrets
import subprocess
import sys
import time

import pytest
import time_machine
from django.conf import settings
from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.rules import StepRefused
from contracts.enums import Role, SecurityEventKind
from contracts.models import EnrolmentCode, PasswordReset, SecurityEvent, User
from tests.factories import UserFactory, totp_code

pytestmark = pytest.mark.django_db

PASSWORD = "mot-de-passe-solide-42"


def login(client, username, password=PASSWORD, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def kinds(**filters):
    return list(
        SecurityEvent.objects.filter(**filters).order_by("id").values_list("kind", flat=True)
    )


# --- Throttling ------------------------------------------------------------------------------


def test_the_sixth_wrong_password_locks_the_name_out_even_with_the_right_one(akpakpa, client):
    cashier = UserFactory(username="akp.caisse", agency=akpakpa, roles=[Role.CASHIER])
    start = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        answers = [login(client, "akp.caisse", "devine").status_code for _ in range(5)]
        assert answers == [200, 200, 200, 200, 429]  # the form again; the 5th locks the name
        response = login(client, "akp.caisse")  # right password, too late
        assert response.status_code == 429
        page = response.content.decode()
        assert "Connexion bloquée" in page and "15 minutes" in page
        assert "_auth_user_id" not in client.session
        # Another address does not help: the name itself is locked.
        other = login(client, "akp.caisse", REMOTE_ADDR="10.1.2.3")
        assert other.status_code == 429
    with time_machine.travel(start + dt.timedelta(minutes=16), tick=False):
        response = login(client, "akp.caisse")
        assert response.status_code == 302  # the cool-off is over
    failed, locked = SecurityEventKind.LOGIN_FAILED, SecurityEventKind.LOCKED_OUT
    assert kinds(user=cashier) == [
        *[failed] * 4,
        *[locked, failed],  # the 5th: axes says "locked" before the failure is recorded
        *[locked, failed],  # the right password, refused while locked
        *[locked, failed],  # from another address
        SecurityEventKind.LOGIN,
    ]


def test_one_address_trying_many_names_is_locked_out_too(akpakpa, client):
    UserFactory(username="akp.accueil", agency=akpakpa, roles=[Role.RECEPTION])
    for n in range(5):
        login(client, f"inconnu-{n}", "devine", REMOTE_ADDR="10.9.9.9")
    assert login(client, "akp.accueil", REMOTE_ADDR="10.9.9.9").status_code == 429
    assert login(client, "akp.accueil", REMOTE_ADDR="10.9.9.10").status_code == 302
    failed = SecurityEvent.objects.filter(kind=SecurityEventKind.LOGIN_FAILED)
    assert sorted(failed.values_list("username", flat=True)) == [
        "akp.accueil",  # refused while the address is locked
        *[f"inconnu-{n}" for n in range(5)],
    ]
    assert set(failed.values_list("ip_address", flat=True)) == {"10.9.9.9"}


def test_a_login_and_a_logout_are_security_events(akpakpa, client):
    reception = UserFactory(username="akp.accueil", agency=akpakpa, roles=[Role.RECEPTION])
    login(client, "akp.accueil")
    client.post(reverse("logout"))
    assert kinds(user=reception) == [SecurityEventKind.LOGIN, SecurityEventKind.LOGOUT]


def test_passwords_are_hashed_with_argon2_and_older_hashes_upgraded(akpakpa, client, settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    user = UserFactory(username="akp.accueil", agency=akpakpa, roles=[Role.RECEPTION])
    assert user.password.startswith("argon2$")
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    User.objects.filter(pk=user.pk).update(
        password=PBKDF2PasswordHasher().encode(PASSWORD, "sel0123456789")
    )
    assert login(client, "akp.accueil").status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$")


# --- The second factor -----------------------------------------------------------------------


@pytest.mark.parametrize("role", Role.values)
def test_the_second_factor_is_asked_of_the_roles_that_need_it(role, akpakpa, client):
    UserFactory(username="x", agency=akpakpa, roles=[role])
    response = login(client, "x")
    needed = role in (Role.CASHIER, Role.SUPERVISOR, Role.MANAGER, Role.AUDITOR, Role.ADMIN)
    after_login = client.get(reverse("contract_search"))
    if needed:
        assert after_login.status_code == 302
        assert after_login.url.startswith(reverse("second_factor"))
    else:
        assert response.status_code == 302 and after_login.status_code == 200


def test_a_superuser_needs_the_second_factor_too(akpakpa, client):
    UserFactory(username="root", agency=akpakpa, roles=[], is_superuser=True)
    login(client, "root")
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response.url.startswith(reverse("second_factor"))


def test_enrolment_by_qr_code_then_the_code_at_each_login_or_a_recovery_code(
    akpakpa, admins, client
):
    from accounts import enrolment

    cashier = UserFactory(username="akp.caisse", agency=akpakpa, roles=[Role.CASHIER])
    login(client, "akp.caisse")
    # A password alone enrols nothing: without an enrolment code, no QR code either.
    page = html.unescape(client.get(reverse("second_factor")).content.decode())
    assert "Aucun code d'enrôlement n'a été émis pour votre compte" in page
    assert "data:image/svg+xml" not in page
    assert not TOTPDevice.objects.filter(user=cashier).exists()
    # One admin asks, the same cannot issue it, a second admin issues it and is shown it.
    first_admin, second_admin = admins
    asked = enrolment.enrolment_code_request(cashier, actor=first_admin)
    with pytest.raises(StepRefused) as refused:
        enrolment.enrolment_code_issue(asked, actor=first_admin)
    assert refused.value.message == enrolment.SECOND_ADMIN
    code = enrolment.enrolment_code_issue(asked, actor=second_admin)
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    assert code.replace("-", "") not in str(list(EnrolmentCode.objects.values()))  # hash only

    page = client.get(reverse("second_factor")).content.decode()
    assert "Enregistrer le second facteur" in page
    assert 'src="data:image/svg+xml' in page  # the QR code, drawn inline (no request out)
    key = re.search(r"<code>([A-Z2-7 ]+)</code>", page).group(1).replace(" ", "")
    device = TOTPDevice.objects.get(user=cashier, confirmed=False)
    assert base64.b32decode(key) == device.bin_key

    refused = client.post(reverse("second_factor"), {"code": "000000", "enrolment_code": code})
    assert "Code refusé" in refused.content.decode()
    assert client.get(reverse("cash_desk")).status_code == 302  # still nothing else
    with time_machine.travel(time.time() + 3):  # django-otp makes one wait after a failure
        wrong = client.post(
            reverse("second_factor"),
            {"code": totp_code(device.bin_key), "enrolment_code": "AAAA-BBBB-CCCC"},
        )
    assert "Code d'enrôlement refusé" in html.unescape(wrong.content.decode())
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed

    with time_machine.travel(time.time() + 40):  # the next 30-second step of the application
        shown = client.post(
            reverse("second_factor"),
            {"code": totp_code(device.bin_key), "enrolment_code": code.lower()},
        )
    codes = re.findall(r"<li><code>(\w+)</code></li>", shown.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get(reverse("cash_desk")).status_code == 200

    client.post(reverse("logout"))
    login(client, "akp.caisse")
    page = client.get(reverse("second_factor")).content.decode()
    assert "Enregistrer" not in page and "code de secours" in page  # the code, not enrolment
    assert client.post(reverse("second_factor"), {"code": codes[0]}).status_code == 302
    assert client.get(reverse("cash_desk")).status_code == 200
    client.post(reverse("logout"))
    login(client, "akp.caisse")
    again = client.post(reverse("second_factor"), {"code": codes[0]})  # used once already
    assert "Code refusé" in again.content.decode()
    assert StaticToken.objects.filter(device__user=cashier).count() == 9
    assert kinds(user=cashier, kind__startswith="second_factor") == [
        SecurityEventKind.SECOND_FACTOR_FAILED,  # the wrong enrolment code
        SecurityEventKind.SECOND_FACTOR_ENROLLED,
        SecurityEventKind.SECOND_FACTOR,
        SecurityEventKind.SECOND_FACTOR_FAILED,
    ]
    assert EnrolmentCode.objects.get().used_at is not None


def test_the_second_factor_page_sends_only_to_this_site(akpakpa, client):
    UserFactory(username="akp.chef", agency=akpakpa, roles=[Role.SUPERVISOR])
    login(client, "akp.chef")
    response = client.get(reverse("second_factor"), {"next": "https://ailleurs.example/"})
    assert "https://ailleurs.example/" not in response.content.decode()


def test_demo_users_are_spared_the_second_factor_only_while_debug_is_on(akpakpa, client, settings):
    UserFactory(username="demo.caisse", agency=akpakpa, roles=[Role.CASHIER], is_demo=True)
    settings.DEBUG = True
    login(client, "demo.caisse")
    assert client.get(reverse("cash_desk")).status_code == 200
    settings.DEBUG = False
    assert client.get(reverse("cash_desk")).status_code == 302


# --- The auditors' page ----------------------------------------------------------------------


def test_auditors_read_the_security_events_with_filters(akpakpa, staff, client):
    login(client, "akp.accueil", "devine")
    login(client, "akp.releve")
    client.force_login(staff.auditor)
    page = client.get(reverse("security_events")).content.decode()
    assert "Échec de connexion" in page and "Connexion" in page
    only_failures = client.get(
        reverse("security_events"), {"kind": SecurityEventKind.LOGIN_FAILED}
    ).context["page"]
    assert [e.username for e in only_failures] == ["akp.accueil"]
    by_name = client.get(reverse("security_events"), {"who": "releve"}).context["page"]
    assert {e.kind for e in by_name} == {SecurityEventKind.LOGIN}
    bad = client.get(reverse("security_events"), {"start": "31/02/2026", "kind": "x"})
    assert bad.status_code == 200
    for person in (staff.reception, staff.reader, staff.supervisor, staff.cashier, staff.acff):
        client.force_login(person)
        assert client.get(reverse("security_events")).status_code == 403


# --- The admin: roles and passwords ----------------------------------------------------------


@pytest.fixture
def admins(akpakpa):
    return (
        UserFactory(username="dcc.admin1", agency=akpakpa, roles=[Role.ADMIN]),
        UserFactory(username="dcc.admin2", agency=akpakpa, roles=[Role.ADMIN]),
    )


def change_form(user: User, **changes) -> dict:
    from django.contrib.auth.models import Group

    data = {
        "username": user.username,
        "last_name": user.last_name,
        "first_name": user.first_name,
        "email": user.email,
        "agency": user.agency_id,
        "groups": [g.pk for g in user.groups.all()],
        "is_active": "on",
    }
    if "roles" in changes:
        data["groups"] = [Group.objects.get(name=r).pk for r in changes.pop("roles")]
    data.update(changes)
    return data


def test_the_admin_cannot_give_itself_a_role_nor_hold_an_operational_one(admins, client):
    admin, _ = admins
    client.force_login(admin)
    url = reverse("admin:contracts_user_change", args=[admin.pk])
    response = client.post(url, change_form(admin, roles=[Role.ADMIN, Role.CASHIER]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Ces rôles ne se cumulent pas" in page
    assert "Vous ne pouvez pas changer vos propres rôles" in page
    assert admin.roles == {Role.ADMIN}
    assert not SecurityEvent.objects.filter(kind=SecurityEventKind.ROLE_GRANTED).exists()


@pytest.mark.parametrize(
    "roles",
    [
        [Role.ADMIN, Role.SUPERVISOR],
        [Role.RECEPTION, Role.CASHIER],
        [Role.ADMIN, Role.ACFF],
        [Role.AUDITOR, Role.CASHIER],
        [Role.AUDITOR, Role.ADMIN],
        [Role.AUDITOR, Role.MANAGER],
    ],
)
def test_forbidden_combinations_are_refused_for_anyone(roles, admins, staff, client):
    admin, _ = admins
    client.force_login(admin)
    target = staff.reception
    url = reverse("admin:contracts_user_change", args=[target.pk])
    response = client.post(url, change_form(target, roles=roles))
    assert "Ces rôles ne se cumulent pas" in response.content.decode()
    assert User.objects.get(pk=target.pk).roles == {Role.RECEPTION}


def test_a_role_granted_to_a_colleague_is_a_security_event(admins, staff, client):
    admin, _ = admins
    client.force_login(admin)
    url = reverse("admin:contracts_user_change", args=[staff.reader.pk])
    response = client.post(url, change_form(staff.reader, roles=[Role.ARPNT]))
    assert response.status_code == 302
    events = SecurityEvent.objects.filter(user=staff.reader).order_by("id")
    assert [(e.kind, e.actor, e.data) for e in events if e.kind.startswith("role")] == [
        (SecurityEventKind.ROLE_GRANTED, admin, {"rôle": dict(Role.choices)[Role.ARPNT]}),
        (SecurityEventKind.ROLE_REVOKED, admin, {"rôle": dict(Role.choices)[Role.READER]}),
    ]


def test_a_password_reset_takes_effect_only_once_a_second_admin_approves(admins, staff, client):
    admin, other_admin = admins
    cashier = staff.cashier
    client.force_login(admin)
    url = reverse("admin:auth_user_password_change", args=[cashier.pk])
    new = "Nouveau-mot-de-passe-2026"
    response = client.post(url, {"password1": new, "password2": new, "usable_password": "true"})
    assert response.status_code == 302
    assert not User.objects.get(pk=cashier.pk).check_password(new)  # not yet
    reset = PasswordReset.objects.get(user=cashier)
    approve = {"action": "approve", "_selected_action": [reset.pk]}
    changelist = reverse("admin:contracts_passwordreset_changelist")
    page = client.post(changelist, approve, follow=True).content.decode()
    assert "un autre administrateur que le demandeur" in page
    assert not User.objects.get(pk=cashier.pk).check_password(new)
    client.force_login(other_admin)
    client.post(changelist, approve)
    assert User.objects.get(pk=cashier.pk).check_password(new)
    assert kinds(user=cashier) == [
        SecurityEventKind.PASSWORD_RESET_REQUESTED,
        SecurityEventKind.PASSWORD_RESET_APPROVED,
    ]


def test_an_account_created_with_a_password_waits_for_the_second_admin(admins, akpakpa, client):
    from django.contrib.auth.models import Group

    admin, _ = admins
    client.force_login(admin)
    response = client.post(
        reverse("admin:contracts_user_add"),
        {
            "username": "akp.nouveau",
            "last_name": "DOSSOU",
            "first_name": "Koffi",
            "agency": akpakpa.pk,
            "groups": [Group.objects.get(name=Role.READER).pk],
            "usable_password": "true",
            "password1": "Tres-long-mot-de-passe-1",
            "password2": "Tres-long-mot-de-passe-1",
        },
    )
    assert response.status_code == 302
    created = User.objects.get(username="akp.nouveau")
    assert not created.has_usable_password()
    assert PasswordReset.objects.filter(user=created, approved_at=None).exists()
    assert kinds(user=created)[:2] == [
        SecurityEventKind.ACCOUNT_CREATED,
        SecurityEventKind.PASSWORD_RESET_REQUESTED,
    ]


def test_an_account_holding_forbidden_roles_acts_nowhere(akpakpa, client):
    both = UserFactory(username="x", agency=akpakpa, roles=[Role.ADMIN, Role.CASHIER])
    client.force_login(both)
    assert client.get(reverse("cash_desk")).status_code == 403
    assert "incompatibles" in client.get(reverse("cash_desk")).content.decode()
    assert client.get(reverse("admin:index")).status_code == 302


# --- Headers, error pages, production settings -----------------------------------------------


def test_a_logged_in_page_carries_the_security_headers(staff, client):
    client.force_login(staff.reception)
    response = client.get(reverse("contract_search"))
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "camera=()" in response["Permissions-Policy"]
    assert response["Cache-Control"] == "no-store, private"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_hsts_and_the_https_redirect_are_on_when_configured(staff, client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    assert client.get(reverse("login")).status_code == 301
    response = client.get(reverse("login"), secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_the_500_page_is_in_french_and_standalone(db):
    response = server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert "Erreur du serveur" in page and "Rien n'a été enregistré à moitié" in page


def test_refused_and_missing_pages_are_logged_on_one_line(staff, client, caplog):
    client.force_login(staff.reception)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        client.get(reverse("cash_desk"))  # 403
        client.get("/nulle-part/")  # 404
    handler = next(h for h in logging.getLogger().handlers if h.filters)
    lines = []
    for record in caplog.records:
        assert handler.filter(record)
        lines.append(handler.format(record))
    assert len(lines) == 2
    assert all("\n" not in line and "Traceback" not in line for line in lines)


def test_check_deploy_passes_with_only_debug_off_a_secret_key_and_a_host():
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50)[:50],
        "ALLOWED_HOSTS": "example.org",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.usefixtures("frozen_today")
def test_a_pdf_carries_the_security_headers(akpakpa, staff, client):
    from billing.models import Document
    from contracts.enums import RequestState
    from tests.workflow import advance, create, documents_rendered, worked_example_contract

    with documents_rendered():
        advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    document = Document.objects.get(kind="invoice")
    client.force_login(staff.reception)
    printed = client.post(reverse("document_print", args=[document.pk]))
    response = client.get(printed.url)
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response["Cache-Control"] == "no-store, private"
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "camera=()" in response["Permissions-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_changing_ones_password_asks_the_current_one_and_is_an_event(akpakpa, client):
    user = UserFactory(username="akp.accueil", agency=akpakpa, roles=[Role.RECEPTION])
    client.force_login(user)
    url = reverse("password_change")
    new = "Un-autre-mot-de-passe-2026"
    wrong = client.post(url, {"old_password": "faux", "new_password1": new, "new_password2": new})
    assert wrong.status_code == 200 and "old_password" in wrong.context["form"].errors
    done = client.post(url, {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert done.status_code == 302
    assert User.objects.get(pk=user.pk).check_password(new)
    assert kinds(user=user) == [SecurityEventKind.LOGIN, SecurityEventKind.PASSWORD_CHANGED]


def test_the_admin_cannot_make_an_account_a_demo_one(admins, staff, client):
    admin, _ = admins
    client.force_login(admin)
    target = staff.reader
    url = reverse("admin:contracts_user_change", args=[target.pk])
    response = client.post(url, change_form(target, is_demo="on"))
    assert response.status_code == 302
    assert User.objects.get(pk=target.pk).is_demo is False
    assert 'name="is_demo"' not in client.get(url).content.decode()


def test_enrolment_codes_are_asked_and_issued_by_two_admins_in_the_admin(admins, staff, client):
    first_admin, second_admin = admins
    client.force_login(first_admin)
    client.post(
        reverse("admin:contracts_user_changelist"),
        {"action": "ask_enrolment_code", "_selected_action": [staff.cashier.pk]},
    )
    asked = EnrolmentCode.objects.get(user=staff.cashier)
    changelist = reverse("admin:contracts_enrolmentcode_changelist")
    issue = {"action": "issue", "_selected_action": [asked.pk]}
    page = html.unescape(client.post(changelist, issue, follow=True).content.decode())
    assert "Un autre administrateur que le demandeur" in page
    assert EnrolmentCode.objects.get(pk=asked.pk).issued_at is None
    client.force_login(second_admin)
    page = html.unescape(client.post(changelist, issue, follow=True).content.decode())
    code = re.search(r"Code d'enrôlement de akp\.caisse : ([A-Z2-9-]{14})", page).group(1)
    again = html.unescape(client.post(changelist, issue, follow=True).content.decode())
    assert code not in again and "déjà émis" in again  # shown once
    assert kinds(user=staff.cashier, kind__startswith="enrolment") == [
        SecurityEventKind.ENROLMENT_CODE_REQUESTED,
        SecurityEventKind.ENROLMENT_CODE_ISSUED,
    ]
