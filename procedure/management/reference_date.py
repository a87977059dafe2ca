"""The reference date of a command that writes dated records (step 8, transfers to recovery)."""

import datetime as dt

from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone

FUTURE_DATE = (
    "La date du {day} est à venir : ce qu'elle écrirait (ordres, transferts) serait daté d'un "
    "jour qui n'est pas encore arrivé, dans des registres qui ne se corrigent pas. Seule la "
    "démonstration (DEBUG=true) accepte une date à venir."
)


def reference_day(date: dt.date | None) -> dt.date:
    """Today unless a date is given; a date to come only in the demo, where it finishes the
    anticipated paths whose cut dates are ahead."""
    today = timezone.localdate()
    if date is None:
        return today
    if date > today and not settings.DEBUG:
        raise CommandError(FUTURE_DATE.format(day=f"{date:%d/%m/%Y}"))
    return date
