from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from contracts.audit import parse_anchor, verify_anchor, verify_chains


class Command(BaseCommand):
    help = (
        "Vérifie les chaînes d'audit (événements des demandes, événements de sécurité) et nomme "
        "le premier maillon rompu de chacune ; avec des ancres gardées hors de la base (journal, "
        "fichier des ancres, arrêtés de caisse), vérifie aussi que les chaînes les atteignent "
        "encore (une fin de chaîne coupée)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--ancre",
            action="append",
            default=[],
            help="Une ligne « ANCRE … » du journal ou du fichier des ancres (répétable).",
        )
        parser.add_argument(
            "--ancres",
            type=Path,
            help="Un fichier d'ancres (AUDIT_ANCHOR_FILE) : chacune de ses lignes est vérifiée.",
        )

    def handle(self, *args, ancre: list[str], ancres: Path | None, **options):
        texts = list(ancre)
        if ancres is not None:
            if not ancres.exists():
                raise CommandError(f"Fichier d'ancres introuvable : {ancres}")
            texts += [line for line in ancres.read_text().splitlines() if line.strip()]
        problems = verify_chains()
        for text in texts:
            try:
                problems += verify_anchor(parse_anchor(text))
            except ValueError as error:
                raise CommandError(str(error)) from None
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"{len(problems)} problème(s) dans les chaînes d'audit.")
        checked = f" ; {len(texts)} ancre(s) atteinte(s)" if texts else ""
        self.stdout.write(f"Chaînes d'audit intactes{checked}.")
