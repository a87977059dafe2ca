"""Import the agencies' contracts from the billing system's extraction files.

    python manage.py import_contracts fixtures/import/*.csv            # checks only (dry run)
    python manage.py import_contracts fixtures/import/*.csv --commit   # checks, then writes

Each file is CSV (UTF-8, ';') or XLSX; its header says what it holds (docs/import.md). Nothing is
written unless every line of every file passes. Exits 1 when there are errors.
"""

import sys

from django.core.management.base import BaseCommand, CommandError

from imports.importer import ContractImport, ImportRefused, Progress


class Command(BaseCommand):
    help = "Importe clients, contrats, dépôts, impayés, avances, relevés (système de facturation)."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", help="Fichiers CSV (;) ou XLSX.")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--commit", action="store_true", help="Écrire (sans cette option : essai seulement)."
        )
        mode.add_argument("--dry-run", action="store_true", help="Essai seulement (par défaut).")
        parser.add_argument(
            "--errors", type=int, default=50, help="Erreurs affichées au plus (défaut 50)."
        )
        parser.add_argument("--no-progress", action="store_true", help="Sans barre de progression.")

    def handle(self, *args, **options):
        show = not options["no_progress"] and sys.stderr.isatty()
        job = ContractImport(
            options["files"],
            commit=options["commit"],
            progress=Progress(show, stream=sys.stderr),
            on_step=lambda text: self.stderr.write(f"{text}…") if not show else None,
        )
        try:
            report = job.run()
        except ImportRefused as refused:
            raise CommandError(str(refused)) from None
        out = self.stdout
        for f in report.files:
            out.write(f"{f.name} : {f.kind.title.lower()}, {f.rows} ligne(s)")
        if not report.ok:
            out.write(f"\n{report.error_count} erreur(s) ; rien n'a été écrit.")
            for problem in report.errors[: options["errors"]]:
                out.write(f"  {problem}")
            if report.error_count > options["errors"]:
                out.write(f"  … et {report.error_count - options['errors']} autre(s).")
            sys.exit(1)
        verb = "Écrit" if report.committed else "Essai (rien n'est écrit ; --commit pour écrire)"
        out.write(f"\n{verb} :")
        for label, n in report.counts.items():
            out.write(f"  {label} : {n}")
        if not report.changes:
            out.write("  Aucun changement : tout est déjà à jour.")
        if report.busy:
            out.write(
                f"\n{len(report.busy)} contrat(s) laissé(s) tel(s) quel(s), une demande de "
                "résiliation étant en cours :"
            )
            for number, request in report.busy:
                out.write(f"  {number} (demande n° {request})")
        for notice in report.notices:
            out.write(f"\n{notice}")
