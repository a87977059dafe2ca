"""The machine before and after a benchmark target (bench/machine.py)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from bench.machine import begin, end


class Command(BaseCommand):
    help = (
        "Avant une mesure : affiche la charge de la machine et refuse une machine occupée ou une "
        "file de tâches en attente (BENCH_FORCE=1 pour mesurer quand même). --fin : la charge à "
        "la fin ; --vider-la-file : retire les tâches en attente de la base de mesure."
    )

    def add_arguments(self, parser):
        parser.add_argument("target")
        parser.add_argument("--fin", action="store_true")
        parser.add_argument("--vider-la-file", action="store_true")

    def handle(self, *args, target: str, fin: bool, vider_la_file: bool, **options):
        if vider_la_file:
            if "bench" not in connection.settings_dict["NAME"]:
                raise CommandError("Refus : la file n'est vidée que dans une base de mesure.")
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM procrastinate_jobs WHERE status = 'todo'")
                removed = cursor.rowcount
            self.stdout.write(
                f"[{target}] {removed} tâches retirées de la file de la base de mesure (leurs "
                "documents restent « en cours de production » et sont rendus à l'impression)."
            )
        if fin:
            end(self.stdout, target)
        else:
            begin(self.stdout, target)
