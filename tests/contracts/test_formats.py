import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict
from django.template import Context, Template

from contracts.models import Customer
from contracts.money import format_fcfa
from contracts.phone import PHONE_E164_MESSAGE, format_phone, normalize_phone
from tests.factories import CustomerFactory


def test_amounts_are_written_in_fcfa_with_grouped_thousands():
    assert format_fcfa(12345) == "12\u00a0345\u00a0FCFA"
    assert format_fcfa(1234567) == "1\u00a0234\u00a0567\u00a0FCFA"
    assert format_fcfa(0) == "0\u00a0FCFA"
    assert format_fcfa(-26417) == "-26\u00a0417\u00a0FCFA"


def test_dates_are_written_day_month_year():
    rendered = Template("{{ d|date }} {{ d|date:'SHORT_DATE_FORMAT' }}").render(
        Context({"d": dt.date(2026, 11, 27)})
    )
    assert rendered == "27/11/2026 27/11/2026"


def test_phone_numbers_are_stored_in_e164():
    assert normalize_phone("01 97 12 34 56") == "+2290197123456"
    assert normalize_phone("+229 0197123456") == "+2290197123456"
    assert normalize_phone("00229 01 97 12 34 56") == "+2290197123456"
    # The former eight-digit numbers took 01 in front on 30 November 2024.
    assert normalize_phone("97 12 34 56") == "+2290197123456"
    assert normalize_phone("+229 97 12 34 56") == "+2290197123456"
    assert normalize_phone("00229 97 12 34 56") == "+2290197123456"
    # A foreign number keeps its country.
    assert normalize_phone("+228 90 12 34 56") == "+22890123456"
    for wrong in ("12345", "HOUNKPATIN", "01 00 00 00 00", "0297123456", "+229 01 97 12 34 56 7"):
        assert normalize_phone(wrong) is None, wrong


def test_phone_numbers_are_shown_as_agents_read_them():
    assert format_phone("+2290197123456") == "01 97 12 34 56"
    assert format_phone("+22890123456") == "+228 90 12 34 56"


@pytest.mark.django_db
def test_the_database_keeps_only_e164_numbers(akpakpa):
    customer = CustomerFactory()
    with pytest.raises(IntegrityError, match="customer_phone_e164"), transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(phone="0197123456")
    typed = {**model_to_dict(customer, exclude=["id"]), "id_document_number": "X1"}
    with pytest.raises(ValidationError) as refused:
        Customer(**{**typed, "phone": "97123456"}).full_clean()
    assert refused.value.messages == [PHONE_E164_MESSAGE]
