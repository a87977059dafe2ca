import datetime as dt

from django.core.management.base import BaseCommand

from procedure.management.reference_date import reference_day
from procedure.services import issue_due_orders


class Command(BaseCommand):
    help = (
        "Étape 8 : émet les ordres de dépose (BT) ou de coupure définitive (MT) arrivés à "
        "échéance. Idempotent ; la tâche périodique du worker fait de même chaque matin."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date",
            type=dt.date.fromisoformat,
            default=None,
            help=(
                "Date de référence (AAAA-MM-JJ), aujourd'hui par défaut ; une date à venir "
                "seulement en démonstration."
            ),
        )

    def handle(self, *args, date: dt.date | None = None, **options):
        day = reference_day(date)
        issued = issue_due_orders(day)
        self.stdout.write(f"{issued} ordre(s) émis pour le {day:%d/%m/%Y}.")
