import datetime as dt

from django.core.management.base import BaseCommand

from procedure.management.reference_date import reference_day
from procedure.services import transfer_overdue_balances


class Command(BaseCommand):
    help = (
        "Transfère à l'apurement les soldes restés sans règlement après leur délai (dettes au "
        "recouvrement, remboursements non réclamés au crédit du compte). Idempotent ; la tâche "
        "du worker le fait chaque matin avant l'étape 8."
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
        done = transfer_overdue_balances(day)
        self.stdout.write(f"{done} solde(s) transféré(s) à l'apurement le {day:%d/%m/%Y}.")
