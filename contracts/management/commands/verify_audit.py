from django.core.management.base import BaseCommand, CommandError

from contracts.audit import verify_chains


class Command(BaseCommand):
    help = (
        "Vérifie les chaînes d'audit (événements des demandes, événements de sécurité) et nomme "
        "le premier maillon rompu de chacune."
    )

    def handle(self, *args, **options):
        problems = verify_chains()
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"{len(problems)} chaîne(s) rompue(s).")
        self.stdout.write("Chaînes d'audit intactes.")
