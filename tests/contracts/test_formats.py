import datetime as dt

from django.template import Context, Template

from contracts.money import format_fcfa
from contracts.phone import normalize_phone


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


def test_phone_numbers_are_normalized_to_ten_digits():
    assert normalize_phone("01 97 12 34 56") == "0197123456"
    assert normalize_phone("97 12 34 56") == "0197123456"
    assert normalize_phone("+229 0197123456") == "0197123456"
    assert normalize_phone("00229 97 12 34 56") == "0197123456"
    assert normalize_phone("12345") is None
    assert normalize_phone("HOUNKPATIN") is None
