import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from contracts.enums import Role
from contracts.models import Agency
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2's cost is for attackers, not for a test suite that creates hundreds of users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def second_factor_done_with_force_login(monkeypatch):
    """force_login skips the password; here it skips the second factor too, as if the code had
    been typed (a confirmed TOTP device, its id in the session). Client.login and the browser
    tests go through the real pages (tests/accounts/test_security.py, tests/browser)."""
    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        from accounts.middleware import needs_second_factor

        if needs_second_factor(user):
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            if device is None:
                device = TOTPDevice.objects.create(user=user, name="tests", confirmed=True)
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(autouse=True)
def empty_cache():
    """The dashboards keep the counts of past weeks (they never change in production; each test
    has its own requests)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def empty_task_queue_after_transactional_tests(request):
    """The task queue's tables are not Django's to flush: after a test that commits, its jobs
    and workers are removed here, so that the next test starts with an empty queue."""
    yield
    names = request.fixturenames
    marker = request.node.get_closest_marker("django_db")
    committed = "live_server" in names or "transactional_db" in names
    committed = committed or bool(marker and marker.kwargs.get("transaction"))
    if committed:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE procrastinate_jobs, procrastinate_workers CASCADE")


@pytest.fixture
def reference_data(db):
    """Agencies, tariff categories and the tariff grid of DESIGN.md §5, from fixtures/."""
    call_command("load_demo_data", "--reference-only", verbosity=0)


@pytest.fixture
def akpakpa(reference_data):
    return Agency.objects.get(code="AKP")


@pytest.fixture
def parakou(reference_data):
    return Agency.objects.get(code="PKO")


@pytest.fixture
def reception(akpakpa):
    """An agent d'accueil at Akpakpa."""
    return UserFactory(username="accueil", agency=akpakpa, roles=[Role.RECEPTION])


@pytest.fixture
def auditor(parakou):
    """A DIG/DAI auditor, attached to Parakou but seeing every agency."""
    return UserFactory(username="auditeur", agency=parakou, roles=[Role.AUDITOR])


@pytest.fixture
def outsider(parakou):
    """An agent d'accueil of another agency."""
    return UserFactory(username="accueil-pko", agency=parakou, roles=[Role.RECEPTION])


class Staff:
    """One person per role at Akpakpa, named after what they do."""

    def __init__(self, agency):
        def person(username, role):
            return UserFactory(username=username, agency=agency, roles=[role])

        self.reception = person("akp.accueil", Role.RECEPTION)
        self.reader = person("akp.releve", Role.READER)
        self.supervisor = person("akp.chef", Role.SUPERVISOR)
        self.cashier = person("akp.caisse", Role.CASHIER)
        self.arpnt = person("akp.arpnt", Role.ARPNT)
        self.acff = person("akp.acff", Role.ACFF)
        self.auditor = person("akp.audit", Role.AUDITOR)


@pytest.fixture
def staff(akpakpa):
    return Staff(akpakpa)


@pytest.fixture
def frozen_today():
    """Today is 30/11/2026, 30 days after the demo contracts' last billed index."""
    from tests.workflow import FROZEN_NOW

    with time_machine.travel(FROZEN_NOW, tick=False):
        yield
