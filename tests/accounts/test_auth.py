import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from contracts.enums import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_every_page_requires_login(client):
    response = client.get(reverse("contract_search"))
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={reverse('contract_search')}"


def test_login_page_is_in_french(client):
    html = client.get(reverse("login")).content.decode()
    assert '<html lang="fr">' in html
    assert "Se connecter" in html


def test_login_with_the_right_password_opens_the_search(client, reception):
    response = login(client, "accueil", "mot-de-passe-solide-42")
    assert response.status_code == 302
    assert response.url == reverse("home")


def test_login_with_a_wrong_password_is_refused_in_french(client, reception):
    response = login(client, "accueil", "faux")
    assert response.status_code == 200
    assert "Saisissez un nom d’utilisateur et un mot de passe valides" in response.content.decode()


def test_logout_ends_the_session(client, reception):
    client.force_login(reception)
    client.post(reverse("logout"))
    assert client.get(reverse("contract_search")).status_code == 302


def test_header_shows_agency_name_and_roles(client, reception):
    client.force_login(reception)
    html = client.get(reverse("contract_search")).content.decode()
    assert "Agence Cotonou Akpakpa" in html
    assert "Agent d&#x27;accueil d&#x27;abonnement" in html
    assert "Sènami" in html


@pytest.fixture
def demo_user(akpakpa):
    user = UserFactory(username="akp.accueil", agency=akpakpa, roles=[Role.RECEPTION], is_demo=True)
    user.set_unusable_password()
    user.save()
    return user


def test_demo_password_opens_a_demo_account_when_debug_is_on(client, demo_user, settings):
    settings.DEBUG = True
    assert login(client, "akp.accueil", settings.DEMO_PASSWORD).status_code == 302


def test_demo_password_is_refused_when_debug_is_off(client, demo_user, settings):
    settings.DEBUG = False
    assert login(client, "akp.accueil", settings.DEMO_PASSWORD).status_code == 200


def test_demo_password_does_not_open_a_real_account(client, reception, settings):
    settings.DEBUG = True
    assert login(client, "accueil", settings.DEMO_PASSWORD).status_code == 200


def test_session_survives_29_minutes_of_inactivity(client, reception):
    with time_machine.travel(dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        login(client, "accueil", "mot-de-passe-solide-42")
        clock.shift(dt.timedelta(minutes=29))
        assert client.get(reverse("contract_search")).status_code == 200


def test_session_ends_after_30_minutes_of_inactivity(client, reception):
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    with time_machine.travel(dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        login(client, "accueil", "mot-de-passe-solide-42")
        clock.shift(dt.timedelta(minutes=20))
        assert client.get(reverse("contract_search")).status_code == 200  # activity
        clock.shift(dt.timedelta(minutes=29))
        assert client.get(reverse("contract_search")).status_code == 200  # still within 30 min
        clock.shift(dt.timedelta(minutes=31))
        response = client.get(reverse("contract_search"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_page_does_not_rewrite_the_session_within_a_minute(client, reception):
    from django.contrib.sessions.models import Session

    def expiry():
        return Session.objects.get(session_key=client.session.session_key).expire_date

    start = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as clock:
        login(client, "accueil", "mot-de-passe-solide-42")
        written = expiry()
        assert written == start + dt.timedelta(minutes=30)
        clock.shift(dt.timedelta(seconds=59))
        client.get(reverse("contract_search"))
        assert expiry() == written  # nothing written
        clock.shift(dt.timedelta(seconds=1))
        client.get(reverse("contract_search"))
        assert expiry() == start + dt.timedelta(minutes=31)  # moved on, once a minute


def test_admin_is_open_to_the_admin_role(client, akpakpa):
    admin = UserFactory(agency=akpakpa, roles=[Role.ADMIN])
    client.force_login(admin)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "Données de référence" in response.content.decode()


def test_admin_is_closed_to_other_roles(client, reception):
    client.force_login(reception)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_the_roles_come_with_the_user_and_a_revoked_one_counts_at_the_next_page(
    client, django_assert_num_queries
):
    from django.contrib.auth.models import Group

    reader = UserFactory(username="releveur", roles=[Role.READER])
    client.force_login(reader)
    assert client.get(reverse("field_app")).status_code == 200
    with django_assert_num_queries(2):  # the session, then the user with their roles
        assert client.get(reverse("field_manifest")).status_code == 200
    reader.groups.remove(Group.objects.get(name=Role.READER))
    assert client.get(reverse("field_app")).status_code == 403
