"""The records for the billing system after a cursor, as CSV and JSON files.

    python manage.py export_codifications --since 0 --dir var/exports

Writes codifications-<first>-<last>.csv and .json (the same records twice) and prints the next
cursor: the last record's number. The same cursor gives the same files; nothing is marked as
sent here (the billing system acknowledges what it has taken).
"""

import csv
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from handoff.selectors import as_dict, records_after


class Command(BaseCommand):
    help = "Écrit en CSV et en JSON les codifications et transferts à transmettre après un curseur."

    def add_arguments(self, parser):
        parser.add_argument("--since", type=int, required=True, help="Curseur : dernier n° reçu.")
        parser.add_argument(
            "--limit", type=int, default=10_000, help="Au plus tant d'enregistrements."
        )
        parser.add_argument(
            "--dir",
            default=str(Path(settings.BASE_DIR) / "var" / "exports"),
            help="Dossier où écrire les fichiers (var/exports par défaut).",
        )

    def handle(self, *args, since: int, limit: int, dir: str, **options):
        if since < 0 or limit < 1:
            raise CommandError("Le curseur est un numéro positif ou nul, la limite au moins 1.")
        records = [as_dict(r) for r in records_after(since, limit)]
        if not records:
            self.stdout.write(f"Rien de nouveau après le n° {since}.")
            return
        folder = Path(dir)
        folder.mkdir(parents=True, exist_ok=True)
        first, last = records[0]["id"], records[-1]["id"]
        stem = folder / f"codifications-{first}-{last}"
        with stem.with_suffix(".json").open("w", encoding="utf-8") as out:
            json.dump(
                {"depuis": since, "jusqu_a": last, "enregistrements": records},
                out,
                ensure_ascii=False,
                indent=2,
            )
        with stem.with_suffix(".csv").open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, delimiter=";")
            writer.writerow(["id", "nature", "agence", "contrat", "ecrit_le", "contenu"])
            for r in records:
                writer.writerow(
                    [
                        r["id"],
                        r["nature"],
                        r["agence"],
                        r["contrat"],
                        r["ecrit_le"],
                        json.dumps(r["contenu"], ensure_ascii=False, sort_keys=True),
                    ]
                )
        self.stdout.write(
            f"{len(records)} enregistrement(s), n° {first} à {last} : {stem}.csv et .json. "
            f"Curseur suivant : {last}"
        )
