import pytest

from contracts.enums import Role, Zone
from tests.factories import AgencyFactory, UserFactory


@pytest.fixture
def akpakpa(db):
    return AgencyFactory(code="AKP", name="Cotonou Akpakpa", zone=Zone.SUD)


@pytest.fixture
def parakou(db):
    return AgencyFactory(code="PKO", name="Parakou", zone=Zone.NORD)


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
