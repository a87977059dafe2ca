import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from contracts.enums import Role
from tests.factories import TariffItemFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dcc_admin(akpakpa):
    return UserFactory(agency=akpakpa, roles=[Role.ADMIN])


def test_tariff_item_in_force_cannot_be_edited_in_the_admin(client, dcc_admin):
    item = TariffItemFactory(valid_from=dt.date(2025, 1, 1), value=125)
    client.force_login(dcc_admin)
    url = reverse("admin:billing_tariffitem_change", args=[item.pk])
    response = client.post(url, {"value": 999})
    item.refresh_from_db()
    assert item.value == 125
    assert response.status_code == 403


def test_tariff_item_dated_in_the_future_can_still_be_corrected(client, dcc_admin):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    item = TariffItemFactory(valid_from=tomorrow, value=125, code="energie")
    client.force_login(dcc_admin)
    url = reverse("admin:billing_tariffitem_change", args=[item.pk])
    data = {
        "category": item.category_id,
        "code": "energie",
        "label": "Énergie",
        "kind": "energy",
        "valid_from": tomorrow.strftime("%d/%m/%Y"),
        "value": 130,
        "from_kwh": 0,
        "to_kwh": "",
        "vat_applies": "on",
        "zone": "",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    item.refresh_from_db()
    assert item.value == 130


def test_admin_lists_tariffs_in_french(client, dcc_admin):
    TariffItemFactory()
    client.force_login(dcc_admin)
    html = client.get(reverse("admin:billing_tariffitem_changelist")).content.decode()
    assert "articles tarifaires" in html.lower()
