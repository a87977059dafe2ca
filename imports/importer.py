"""Import of the agencies' contracts from SBEE's billing system: customers, contracts (with their
delivery point and meter), deposits, unpaid invoices, advances and the last billed readings.

Each file is copied as it is into a temporary table (COPY, every column text, each row with its
file and line), checked there by set-based SQL, then written by set-based SQL, all in one
transaction: nothing is written unless every line passes, and a dry run is the same work rolled
back, so that its report (counts included) is what a commit would do. The files' columns are
described once, in FILE_KINDS; the README, the admin page and the checks all read them there."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from contracts.audit import security_event
from contracts.enums import NOT_TERMINATED, OPEN_REQUEST_STATES, SecurityEventKind

# One import at a time: held until the import's transaction ends.
IMPORT_LOCK = 7_364_522
# Errors kept in the report beyond their count.
REPORT_LIMIT = 1000
CHUNK = 1 << 20

ID_TYPES = {
    "CNI": "cni",
    "CIP": "cip",
    "PASSEPORT": "passport",
    "CARTE_CONSULAIRE": "consular_card",
    "RCCM": "rccm",
}
CUSTOMER_KINDS = {"PARTICULIER": "person", "ENTREPRISE": "company"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # text, int, date, choice
    help: str
    max_length: int = 0
    choices: dict[str, str] | None = None
    minimum: int = 0
    maximum: int = 999_999_999
    pattern: tuple[str, str] | None = None  # regular expression, what it means


@dataclass(frozen=True)
class FileKind:
    code: str
    title: str
    help: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def _contract(help_text: str = "numéro du contrat (fichier des contrats ou déjà enregistré)"):
    return Column("numero_contrat", "text", help_text, max_length=20)


FILE_KINDS = (
    FileKind(
        "clients",
        "Clients",
        "Un client par ligne, reconnu par sa pièce d'identité.",
        (
            Column(
                "type_piece",
                "choice",
                "CNI, CIP, PASSEPORT, CARTE_CONSULAIRE ou RCCM",
                choices=ID_TYPES,
            ),
            Column("numero_piece", "text", "numéro de la pièce", max_length=40),
            Column(
                "type_client",
                "choice",
                "PARTICULIER ou ENTREPRISE (une entreprise : RCCM)",
                choices=CUSTOMER_KINDS,
            ),
            Column("nom", "text", "NOM et prénoms, ou raison sociale", max_length=150),
            Column(
                "telephone",
                "text",
                "10 chiffres (01…) ; un ancien numéro à 8 chiffres est converti (01 devant)",
                max_length=10,
                pattern=(
                    r"^(01)?[0-9]{8}$",
                    "10 chiffres commençant par 01, ou un ancien numéro à 8 chiffres, sans espace",
                ),
            ),
            Column("adresse", "text", "quartier, carré, ville", max_length=255),
        ),
    ),
    FileKind(
        "contrats",
        "Contrats",
        "Un contrat actif par ligne, avec son point de livraison et son compteur ; le client "
        "est celui de la pièce indiquée.",
        (
            Column("numero_contrat", "text", "numéro du contrat", max_length=20),
            Column("agence", "text", "code de l'agence (AKP, GBE, PNO, PKO…)", max_length=10),
            Column(
                "type_piece_client",
                "choice",
                "pièce du client : CNI, CIP, PASSEPORT, CARTE_CONSULAIRE ou RCCM",
                choices=ID_TYPES,
            ),
            Column("numero_piece_client", "text", "numéro de la pièce du client", max_length=40),
            Column(
                "categorie", "text", "catégorie tarifaire (BT-DOM, BT-PRO, MT-GEN)", max_length=10
            ),
            Column("puissance_kva", "int", "puissance souscrite (kVA)", minimum=1, maximum=32767),
            Column("date_effet", "date", "date d'effet du contrat (JJ/MM/AAAA)"),
            Column("point_livraison", "text", "référence du point de livraison", max_length=20),
            Column(
                "adresse_point_livraison", "text", "adresse du point de livraison", max_length=255
            ),
            Column("numero_compteur", "text", "numéro de série du compteur", max_length=30),
            Column(
                "chiffres_compteur",
                "int",
                "nombre de chiffres du compteur (4 à 9)",
                minimum=4,
                maximum=9,
            ),
            Column("dernier_index", "int", "dernier index facturé"),
            Column("date_dernier_index", "date", "date du dernier index facturé (JJ/MM/AAAA)"),
        ),
    ),
    FileKind(
        "depots",
        "Dépôts de garantie",
        "L'avance sur consommation versée à l'abonnement, et qui l'a versée : elle ne sera "
        "remboursée qu'à cette personne.",
        (
            _contract(),
            Column("montant", "int", "montant (FCFA)", minimum=1),
            Column("verse_le", "date", "date du versement (JJ/MM/AAAA)"),
            Column("nom_deposant", "text", "nom de la personne qui a versé", max_length=150),
            Column(
                "type_piece_deposant",
                "choice",
                "sa pièce : CNI, CIP, PASSEPORT, CARTE_CONSULAIRE ou RCCM",
                choices=ID_TYPES,
            ),
            Column("numero_piece_deposant", "text", "numéro de sa pièce", max_length=40),
        ),
    ),
    FileKind(
        "impayes",
        "Factures impayées",
        "Les factures de consommation restant dues à la date de l'extraction ; une facture "
        "absente d'une extraction plus récente a été réglée au système de facturation.",
        (
            _contract(),
            Column("numero_facture", "text", "numéro de la facture", max_length=40),
            Column("emise_le", "date", "date d'émission (JJ/MM/AAAA)"),
            Column("debut_periode", "date", "début de la période facturée (JJ/MM/AAAA)"),
            Column("fin_periode", "date", "fin de la période facturée (JJ/MM/AAAA)"),
            Column("montant", "int", "montant TTC restant dû (FCFA)", minimum=1),
        ),
    ),
    FileKind(
        "avances",
        "Avances en compte",
        "Les avances versées sur le compte, chacune avec la référence de son reçu.",
        (
            _contract(),
            Column("reference", "text", "référence du reçu", max_length=40),
            Column("date", "date", "date du versement (JJ/MM/AAAA)"),
            Column("montant", "int", "montant (FCFA)", minimum=1),
        ),
    ),
    FileKind(
        "releves",
        "Relevés facturés",
        "Les 12 derniers relevés facturés de chaque contrat : l'historique de consommation "
        "du contrôle « 3 fois la consommation habituelle ».",
        (
            _contract(),
            Column("date_releve", "date", "date du relevé (JJ/MM/AAAA)"),
            Column("index", "int", "index relevé"),
            Column("jours", "int", "jours de la période facturée", minimum=1, maximum=3660),
            Column("consommation", "int", "consommation facturée (kWh)"),
        ),
    ),
)
KINDS_BY_CODE = {kind.code: kind for kind in FILE_KINDS}
KIND_ORDER = [kind.code for kind in FILE_KINDS]


class ImportRefused(Exception):
    """The files cannot be read at all (not CSV/XLSX, unknown header...)."""


@dataclass
class Problem:
    file: str
    line: int | None
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}, ligne {self.line}" if self.line else self.file
        return f"{where}{f', colonne {self.column}' if self.column else ''} : {self.reason}"


@dataclass
class SourceFile:
    name: str
    kind: FileKind
    rows: int
    sha256: str


@dataclass
class ImportReport:
    committed: bool = False
    files: list[SourceFile] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    error_count: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    # Contracts left as they are because a request is in progress on them: (contract, request)
    busy: list[tuple[str, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def changes(self) -> int:
        return sum(self.counts.values())

    def as_json(self) -> dict:
        """The whole report as JSON (kept with an import run by the task worker)."""
        return {
            "committed": self.committed,
            "files": [[f.name, f.kind.code, f.rows, f.sha256] for f in self.files],
            "errors": [[p.file, p.line, p.column, p.reason] for p in self.errors],
            "error_count": self.error_count,
            "counts": self.counts,
            "busy": [list(b) for b in self.busy],
            "notices": self.notices,
        }

    @classmethod
    def from_json(cls, data: dict) -> ImportReport:
        kinds = {kind.code: kind for kind in FILE_KINDS}
        return cls(
            committed=data["committed"],
            files=[SourceFile(n, kinds[k], rows, sha) for n, k, rows, sha in data["files"]],
            errors=[Problem(*p) for p in data["errors"]],
            error_count=data["error_count"],
            counts=data["counts"],
            busy=[tuple(b) for b in data["busy"]],
            notices=data["notices"],
        )

    def summary(self) -> dict:
        return {
            "écriture": self.committed,
            "fichiers": [
                {"nom": f.name, "nature": f.kind.code, "lignes": f.rows, "sha256": f.sha256}
                for f in self.files
            ],
            "erreurs": self.error_count,
            "résultat": self.counts,
            "contrats avec une demande en cours": len(self.busy),
        }


# ---------------------------------------------------------------------------------------------
# Reading the files


def normalize_header(name: str) -> str:
    name = unicodedata.normalize("NFKD", name.strip().strip('"').lower())
    name = "".join(c for c in name if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def recognise(header: list[str], file_name: str) -> tuple[FileKind, list[str]]:
    """The file's kind from its header (any column order), and its columns in file order."""
    columns = [normalize_header(h) for h in header]
    given = set(columns)
    for kind in FILE_KINDS:
        if given == set(kind.names) and len(columns) == len(kind.names):
            return kind, columns
    best = max(FILE_KINDS, key=lambda k: len(given & set(k.names)))
    missing = [n for n in best.names if n not in given]
    unknown = [c for c in columns if c not in best.names]
    if len(header) == 1 and ("," in header[0] or "\t" in header[0]):
        raise ImportRefused(
            f"{file_name} : les colonnes doivent être séparées par des points-virgules (;)."
        )
    if len(given & set(best.names)) < 2:
        raise ImportRefused(
            f"{file_name} : en-tête non reconnu. La première ligne doit nommer les colonnes "
            "de l'une des natures de fichier : "
            + " ; ".join(f"{k.title} ({', '.join(k.names)})" for k in FILE_KINDS)
            + "."
        )
    parts = []
    if missing:
        parts.append("colonne(s) manquante(s) : " + ", ".join(missing))
    if unknown:
        parts.append("colonne(s) inconnue(s) : " + ", ".join(unknown))
    if len(columns) != len(given):
        parts.append("une colonne est nommée deux fois")
    raise ImportRefused(f"{file_name} ({best.title.lower()}) : " + " ; ".join(parts) + ".")


class Source:
    """One uploaded or named file: CSV (UTF-8, ';') or XLSX (its first sheet)."""

    def __init__(self, path: Path, name: str | None = None):
        self.path = Path(path)
        self.name = name or self.path.name
        self.is_xlsx = self.path.suffix.lower() == ".xlsx"

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with self.path.open("rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def header_and_rows(self) -> tuple[list[str], int]:
        """The header's cells and the number of data rows (for the progress bar)."""
        if self.is_xlsx:
            sheet = self._sheet()
            header = next(sheet.iter_rows(values_only=True, max_row=1), None)
            total = max((sheet.max_row or 1) - 1, 0)
            sheet.parent.close()
            return [str(v) for v in header or () if v is not None], total
        rows = 0
        with self.path.open("rb") as f:
            first = f.readline()
            tail = b"\n"
            while chunk := f.read(CHUNK):
                rows += chunk.count(b"\n")
                tail = chunk
            rows += 0 if tail.endswith(b"\n") else 1
        try:
            text = first.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportRefused(
                f"{self.name} : le fichier n'est pas en UTF-8. Enregistrez-le en « CSV UTF-8 "
                "(délimité par des points-virgules) »."
            ) from None
        if not text.strip():
            raise ImportRefused(f"{self.name} : fichier vide.")
        self.newline = b"\r\n" if first.endswith(b"\r\n") else b"\n"
        return next(csv.reader([text.strip("\r\n")], delimiter=";")), rows

    def _sheet(self):
        from openpyxl import load_workbook

        self._check_unpacked_size()
        try:
            book = load_workbook(self.path, read_only=True, data_only=True)
        except Exception:
            raise ImportRefused(f"{self.name} : ce n'est pas un classeur XLSX lisible.") from None
        return book.worksheets[0]

    def _check_unpacked_size(self) -> None:
        """An XLSX is a zip: what it unpacks to is known from its directory, before anything is
        read. A small file that would unpack to hundreds of megabytes is refused."""
        limit = settings.IMPORT_XLSX_MAX_UNPACKED_MB * 1024 * 1024
        try:
            with zipfile.ZipFile(self.path) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
        except zipfile.BadZipFile:
            raise ImportRefused(f"{self.name} : ce n'est pas un classeur XLSX lisible.") from None
        if unpacked > limit:
            raise ImportRefused(
                f"{self.name} : ce classeur se décompresse en {unpacked / 1024 / 1024:.0f} Mo "
                f"(au plus {settings.IMPORT_XLSX_MAX_UNPACKED_MB} Mo) : enregistrez-le en CSV, "
                "ou importez-le par la commande import_contracts."
            )

    def _unreadable_cell(self, error: Exception, header: list[str]) -> ImportRefused:
        """openpyxl stops on a cell it cannot read (a number that is not one, a date out of
        range): its file, line and column, from the cell the reader was at."""
        coordinate = ""
        frame = error.__traceback__
        while frame is not None:
            coordinate = frame.tb_frame.f_locals.get("coordinate") or coordinate
            frame = frame.tb_next
        match = re.fullmatch(r"([A-Z]+)(\d+)", str(coordinate))
        if match is None:
            return ImportRefused(f"{self.name} : une cellule est illisible ({error}).")
        letters, line = match.groups()
        index = 0
        for letter in letters:
            index = index * 26 + ord(letter) - ord("A") + 1
        column = header[index - 1] if index <= len(header) else f"colonne {letters}"
        return ImportRefused(
            f"{self.name}, ligne {line}, colonne {column} : cellule illisible (valeur qui n'est "
            f"pas de son type, ou date hors limites : {error}). Corrigez-la dans le classeur."
        )

    def chunks(self):
        """The data rows as CSV bytes (';'), in chunks of about a megabyte: (bytes, rows)."""
        if self.is_xlsx:
            yield from self._xlsx_chunks()
            return
        with self.path.open("rb") as f:
            f.readline()
            pending = b""
            written = False
            while chunk := f.read(CHUNK):
                data = pending + chunk
                # Newlines at the very end are held back: blank lines there are not rows.
                body = data.rstrip(b"\r\n")
                pending = data[len(body) :]
                if body:
                    yield body, body.count(b"\n")
                    written = True
            if written:
                yield getattr(self, "newline", b"\n"), 1

    def _xlsx_chunks(self):
        sheet = self._sheet()
        rows = sheet.iter_rows(values_only=True)
        header = [str(v) if v is not None else "" for v in next(rows, None) or ()]
        try:
            yield from self._xlsx_rows(rows)
        except ImportRefused:
            raise
        except Exception as error:
            raise self._unreadable_cell(error, header) from None
        finally:
            sheet.parent.close()

    def _xlsx_rows(self, rows):
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\n")
        blank = 0
        count = 0
        for row in rows:
            values = [_cell(v) for v in row]
            if not any(values):
                blank += 1  # kept only if a filled row follows: line numbers stay right
                continue
            for _ in range(blank):
                writer.writerow([""] * len(values))
            count += blank + 1
            blank = 0
            writer.writerow(values)
            if out.tell() > CHUNK:
                yield out.getvalue().encode(), count
                out.seek(0)
                out.truncate()
                count = 0
        if out.tell():
            yield out.getvalue().encode(), count


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# ---------------------------------------------------------------------------------------------
# SQL of the checks


def _v(column: str) -> str:
    return f"nullif(btrim(s.{column}), '')"


def _int_text(column: str) -> str:
    return f"nullif(translate(btrim(s.{column}), E' \\u00a0\\u202f', ''), '')"


def _date_ok(v: str) -> str:
    """True when v (text, not null) is a real date written JJ/MM/AAAA (t_dates holds them all,
    from 1900 to 2199: a hashed lookup, never an error on a 31/02)."""
    return f"{v} IN (SELECT t FROM t_dates)"


def _cheap_ok(kind: FileKind) -> str:
    """True for a line whose every cell is right, evaluated cheaply: only the other lines go
    through the detailed checks (nearly all lines of a real extraction are right)."""
    parts = []
    for c in kind.columns:
        col = f"s.{c.name}"
        if c.type == "int":
            parts.append(
                f"CASE WHEN length({col}) BETWEEN 1 AND 9 "
                f"AND translate({col}, '0123456789', '') = '' "
                f"THEN {col}::int BETWEEN {c.minimum} AND {c.maximum} ELSE false END"
            )
        elif c.type == "date":
            parts.append(f"{col} IN (SELECT t FROM t_dates)")
        elif c.type == "choice":
            parts.append(f"{col} IN ({', '.join(repr(k) for k in c.choices)})")
        else:
            parts.append(f"length(btrim({col})) BETWEEN 1 AND {c.max_length}")
            if c.pattern:
                parts.append(f"{col} ~ '{c.pattern[0]}'")
    return " AND ".join(parts)


def _format_checks(kind: FileKind) -> list[tuple[str, str, str]]:
    """(condition true when the cell is wrong, column, reason), for each column."""
    checks = []
    for c in kind.columns:
        v = _int_text(c.name) if c.type == "int" else _v(c.name)
        checks.append((f"{v} IS NULL", c.name, "valeur obligatoire"))
        if c.type == "text":
            checks.append(
                (f"length({v}) > {c.max_length}", c.name, f"{c.max_length} caractères au plus")
            )
            if c.pattern:
                checks.append((f"{v} !~ '{c.pattern[0]}'", c.name, c.pattern[1]))
        elif c.type == "choice":
            allowed = ", ".join(f"'{k}'" for k in c.choices)
            names = list(c.choices)
            checks.append(
                (
                    f"upper({v}) NOT IN ({allowed})",
                    c.name,
                    "valeur attendue : " + ", ".join(names[:-1]) + " ou " + names[-1],
                )
            )
        elif c.type == "int":
            checks.append((f"{v} !~ '^[0-9]{{1,9}}$'", c.name, "nombre entier attendu"))
            reason = (
                f"doit être au moins {c.minimum}"
                if c.maximum == 999_999_999
                else f"doit être entre {c.minimum} et {c.maximum}"
            )
            checks.append(
                (
                    f"CASE WHEN {v} !~ '^[0-9]{{1,9}}$' THEN false ELSE {v}::int NOT BETWEEN "
                    f"{c.minimum} AND {c.maximum} END",
                    c.name,
                    reason,
                )
            )
        elif c.type == "date":
            checks.append((f"NOT ({_date_ok(v)})", c.name, "date attendue au format JJ/MM/AAAA"))
    return checks


def _typed(c: Column) -> str:
    if c.type == "int":
        return f"{_int_text(c.name)}::int AS {c.name}"
    if c.type == "date":
        b = f"btrim(s.{c.name})"
        return (
            f"make_date(substr({b}, 7, 4)::int, substr({b}, 4, 2)::int, substr({b}, 1, 2)::int) "
            f"AS {c.name}"
        )
    if c.type == "choice":
        cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in c.choices.items())
        return f"CASE upper(btrim(s.{c.name})) {cases} END AS {c.name}"
    return f"btrim(s.{c.name}) AS {c.name}"


# Checks across lines, files and the database, on the typed tables (t_<kind>): each a SELECT
# of (file, line, column, reason). {known} is the set of contract numbers one may refer to.


def _duplicates(table: str, keys: str, column: str, what: str) -> str:
    return f"""
        SELECT file, line, '{column}', '{what} en double (voir ' || first_file || ', ligne '
               || first_line || ')'
        FROM (SELECT file, line,
                     first_value(file) OVER w AS first_file, first_value(line) OVER w AS first_line,
                     row_number() OVER w AS n
              FROM {table} WINDOW w AS (PARTITION BY {keys} ORDER BY file, line)) d
        WHERE n > 1"""


def _unknown_contract(table: str) -> str:
    return f"""
        SELECT file, line, 'numero_contrat',
               'contrat inconnu : ni dans le fichier des contrats, ni déjà enregistré'
        FROM {table} t
        WHERE NOT EXISTS (SELECT 1 FROM r_contracts c WHERE c.number = t.numero_contrat)
          AND NOT EXISTS (SELECT 1 FROM contracts_contract c WHERE c.number = t.numero_contrat)"""


ACTIVE = "('" + "', '".join(NOT_TERMINATED) + "')"
OPEN = "('" + "', '".join(OPEN_REQUEST_STATES) + "')"

CROSS_CHECKS = {
    "clients": [
        _duplicates("t_clients", "type_piece, numero_piece", "numero_piece", "client"),
        """SELECT file, line, 'type_piece',
                  CASE WHEN type_client = 'company'
                       THEN 'une entreprise s''identifie par son RCCM'
                       ELSE 'un particulier s''identifie par une CNI, un CIP, un passeport ou '
                            || 'une carte consulaire' END
           FROM t_clients WHERE (type_client = 'company') <> (type_piece = 'rccm')""",
    ],
    "contrats": [
        _duplicates("t_contrats", "numero_contrat", "numero_contrat", "contrat"),
        _duplicates(
            "t_contrats",
            "point_livraison",
            "point_livraison",
            "point de livraison (un seul contrat actif par point)",
        ),
        _duplicates(
            "t_contrats",
            "numero_compteur",
            "numero_compteur",
            "compteur (un seul contrat actif par compteur)",
        ),
        """SELECT file, line, 'agence', 'agence inconnue : ' || agence FROM t_contrats t
           WHERE NOT EXISTS (SELECT 1 FROM contracts_agency a WHERE a.code = t.agence)""",
        """SELECT file, line, 'categorie', 'catégorie tarifaire inconnue : ' || categorie
           FROM t_contrats t
           WHERE NOT EXISTS (SELECT 1 FROM billing_tariffcategory c WHERE c.code = t.categorie)""",
        """SELECT file, line, 'numero_piece_client',
                  'client inconnu : ni dans le fichier des clients, ni déjà enregistré'
           FROM t_contrats t
           WHERE NOT EXISTS (SELECT 1 FROM r_clients c
                             WHERE c.type = t.type_piece_client
                               AND c.number = t.numero_piece_client)
             AND NOT EXISTS (SELECT 1 FROM contracts_customer c
                             WHERE c.id_document_type = t.type_piece_client
                               AND c.id_document_number = t.numero_piece_client)""",
        """SELECT file, line, 'date_dernier_index', 'antérieure à la date d''effet'
           FROM t_contrats WHERE date_dernier_index < date_effet""",
        """SELECT file, line, 'date_dernier_index', 'date à venir' FROM t_contrats
           WHERE date_dernier_index > %(today)s""",
        """SELECT file, line, 'dernier_index',
                  'dépasse la capacité du compteur (' || chiffres_compteur || ' chiffres)'
           FROM t_contrats WHERE dernier_index >= 10::bigint ^ chiffres_compteur""",
        # A new contract on a delivery point or meter that already has an active one.
        f"""SELECT t.file, t.line, 'point_livraison',
                   'ce point de livraison a déjà un contrat actif (n° ' || c.number || ')'
            FROM t_contrats t
            JOIN contracts_deliverypoint p ON p.reference = t.point_livraison
            JOIN contracts_contract c ON c.delivery_point_id = p.id AND c.status IN {ACTIVE}
            WHERE c.number <> t.numero_contrat""",
        f"""SELECT t.file, t.line, 'numero_compteur',
                   'ce compteur est déjà attaché à un contrat actif (n° ' || c.number || ')'
            FROM t_contrats t
            JOIN contracts_meter m ON m.serial = t.numero_compteur
            JOIN contracts_contract c ON c.meter_id = m.id AND c.status IN {ACTIVE}
            WHERE c.number <> t.numero_contrat""",
        """SELECT t.file, t.line, 'point_livraison',
                  'ce point de livraison est enregistré dans une autre agence (' || a.code || ')'
           FROM t_contrats t
           JOIN contracts_deliverypoint p ON p.reference = t.point_livraison
           JOIN contracts_agency a ON a.id = p.agency_id
           WHERE a.code <> t.agence""",
        """SELECT t.file, t.line, 'chiffres_compteur',
                  'ce compteur est enregistré avec ' || m.digits || ' chiffres'
           FROM t_contrats t JOIN contracts_meter m ON m.serial = t.numero_compteur
           WHERE m.digits <> t.chiffres_compteur""",
    ],
    "depots": [
        _duplicates(
            "t_depots",
            "numero_contrat",
            "numero_contrat",
            "dépôt de garantie (un seul par contrat)",
        ),
        _unknown_contract("t_depots"),
    ],
    "impayes": [
        _duplicates("t_impayes", "numero_facture", "numero_facture", "facture"),
        _unknown_contract("t_impayes"),
        """SELECT file, line, 'debut_periode', 'postérieur à la fin de période'
           FROM t_impayes WHERE debut_periode > fin_periode""",
        """SELECT t.file, t.line, 'numero_facture',
                  'une autre facture porte déjà ce numéro (contrat ' || c.number || ', '
                  || i.total || ' FCFA)'
           FROM t_impayes t
           JOIN billing_invoice i ON i.number = t.numero_facture
           JOIN contracts_contract c ON c.id = i.contract_id
           WHERE c.number <> t.numero_contrat OR i.total <> t.montant
              OR i.kind <> 'consumption'""",
    ],
    "avances": [
        _duplicates("t_avances", "numero_contrat, reference", "reference", "avance"),
        _unknown_contract("t_avances"),
    ],
    "releves": [
        _duplicates(
            "t_releves", "numero_contrat, date_releve", "date_releve", "relevé du même jour"
        ),
        _unknown_contract("t_releves"),
    ],
}

# The contracts concerned by the import, resolved to the database's ids once the new ones are
# written: busy when a request is in progress (or the contract is ending or terminated here).
REFERENCED = """SELECT numero_contrat FROM t_contrats
                 UNION SELECT numero_contrat FROM t_depots
                 UNION SELECT numero_contrat FROM t_impayes
                 UNION SELECT numero_contrat FROM t_avances
                 UNION SELECT numero_contrat FROM t_releves"""
CONTRACT_IDS = f"""
    CREATE TEMP TABLE t_ids ON COMMIT DROP AS
    SELECT c.id, c.number, c.status,
           (SELECT r.id::text FROM contracts_terminationrequest r
            WHERE r.contract_id = c.id AND r.state IN {OPEN} LIMIT 1) AS request,
           c.id IN (SELECT id FROM t_new) AS is_new
    FROM contracts_contract c
    WHERE c.number IN ({REFERENCED})
"""


class Progress:
    """A tqdm bar on a terminal, nothing elsewhere."""

    def __init__(self, enabled: bool, stream=None):
        self.enabled = enabled
        self.stream = stream
        self.bar = None

    def start(self, what: str, total: int):
        self.close()
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                desc=what,
                unit=" lignes",
                unit_scale=True,
                file=self.stream,
                bar_format="{desc}: {percentage:3.0f} %|{bar}| {n_fmt}/{total_fmt} "
                "[{elapsed} écoulé, reste {remaining}, {rate_fmt}]",
            )

    def advance(self, n: int):
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# ---------------------------------------------------------------------------------------------


class ContractImport:
    """Import a set of files; `run()` returns the report. Nothing is kept unless `commit` and
    no error; a dry run does the same writes and rolls them back."""

    SLICE = 250_000  # rows per write statement (the progress bar moves between them)

    def __init__(
        self,
        paths,
        *,
        commit: bool = False,
        actor=None,
        progress: Progress | None = None,
        today: dt.date | None = None,
        request=None,
        on_step: Callable[[str], None] | None = None,
    ):
        self.sources = [p if isinstance(p, Source) else Source(p) for p in paths]
        self.commit = commit
        self.actor = actor
        self.progress = progress or Progress(False)
        self.today = today or timezone.localdate()
        self.http_request = request
        self.on_step = on_step or (lambda text: None)
        self.report = ImportReport()

    # -- the whole run ------------------------------------------------------------------------

    def run(self) -> ImportReport:
        kinds = self._recognise()
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                self.cursor = cursor
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK])
                # Foreign keys checked by each statement, not at COMMIT: a dry run, rolled back,
                # then checks them too.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                self._drop_work_tables()  # a caller's transaction may hold a previous run's
                self._stage(kinds)
                self._check_formats()
                self._type_tables()
                if self._check_across():
                    self._write()
                self._drop_work_tables()
                if self.commit and self.report.ok:
                    self.report.committed = True
                    self._security_event()
                else:
                    transaction.set_rollback(True)
        except IntegrityError as error:
            # The database's own constraints, should a concurrent write slip between the checks
            # and the writes: nothing is kept, the report says which.
            self.report.committed = False
            self._problem("—", None, "", f"refusé par la base de données : {_reason(error)}")
        except (DatabaseError, psycopg.Error) as error:
            problem = _copy_problem(error, self._copying)
            if problem is None:
                raise
            self.report.committed = False
            self.report.errors.append(problem)
            self.report.error_count += 1
        finally:
            self.progress.close()
        if not self.report.committed:
            self._security_event()
        return self.report

    WORK_TABLES = (
        "t_errors", "t_dates", "r_contracts", "r_clients", "t_new", "t_new_rows", "t_ids", "t_free",
        "t_paid", *(f"{prefix}_{kind.code}" for prefix in "st" for kind in FILE_KINDS),
    )  # fmt: skip

    def _drop_work_tables(self):
        self.cursor.execute("DROP TABLE IF EXISTS " + ", ".join(self.WORK_TABLES))

    def _security_event(self):
        security_event(
            SecurityEventKind.IMPORT,
            actor=self.actor,
            request=self.http_request,
            data=self.report.summary(),
        )

    def _problem(self, file, line, column, reason):
        self.report.error_count += 1
        if len(self.report.errors) < REPORT_LIMIT:
            self.report.errors.append(Problem(file, line, column, reason))

    def _recognise(self) -> dict[str, list[tuple[Source, list[str], int]]]:
        kinds: dict[str, list] = {code: [] for code in KIND_ORDER}
        if not self.sources:
            raise ImportRefused("Aucun fichier à importer.")
        for source in self.sources:
            if not source.path.exists():
                raise ImportRefused(f"{source.name} : fichier introuvable.")
            header, rows = source.header_and_rows()
            kind, columns = recognise(header, source.name)
            kinds[kind.code].append((source, columns, rows))
            self.report.files.append(SourceFile(source.name, kind, rows, source.sha256()))
        return kinds

    # -- loading ------------------------------------------------------------------------------

    _copying: str | None = None

    def _stage(self, kinds):
        c = self.cursor
        self.on_step("Lecture des fichiers")
        self.progress.start("Lecture", sum(f.rows for f in self.report.files))
        c.execute("SET LOCAL work_mem = '256MB'")
        c.execute("SET LOCAL maintenance_work_mem = '512MB'")
        c.execute("""CREATE TEMP TABLE t_errors (file text, line bigint, col text, reason text)
                     ON COMMIT DROP""")
        for kind in FILE_KINDS:
            cols = ", ".join(f"{n} text" for n in kind.names)
            c.execute(
                f"CREATE TEMP TABLE s_{kind.code} (seq bigserial, file text, "
                f"line bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 2), {cols}) "
                "ON COMMIT DROP"
            )
            for source, columns, _rows in kinds[kind.code]:
                literal = "'" + source.name.replace("'", "''") + "'"
                c.execute(f"ALTER TABLE s_{kind.code} ALTER COLUMN file SET DEFAULT {literal}")
                c.execute(f"ALTER TABLE s_{kind.code} ALTER COLUMN line RESTART WITH 2")
                self._copying = source.name
                with c.copy(
                    f"COPY s_{kind.code} ({', '.join(columns)}) FROM STDIN "
                    "WITH (FORMAT csv, DELIMITER ';', ENCODING 'UTF8')"
                ) as copy:
                    for chunk, rows in source.chunks():
                        copy.write(chunk)
                        self.progress.advance(rows)
                self._copying = None
        self.progress.close()

    # -- checks -------------------------------------------------------------------------------

    def _collect(self) -> bool:
        c = self.cursor
        c.execute("SELECT count(*) FROM t_errors")
        (count,) = c.fetchone()
        if count:
            c.execute(
                "SELECT file, line, col, reason FROM t_errors ORDER BY file, line, col LIMIT %s",
                [REPORT_LIMIT],
            )
            self.report.errors = [Problem(*row) for row in c.fetchall()]
            self.report.error_count = count
        return count == 0

    def _check_formats(self) -> None:
        self.on_step("Vérification des valeurs")
        self.cursor.execute(
            "CREATE TEMP TABLE t_dates ON COMMIT DROP AS SELECT to_char(d, 'DD/MM/YYYY') AS t "
            "FROM generate_series(date '1900-01-01', date '2199-12-31', interval '1 day') d"
        )
        self.cursor.execute("ANALYZE t_dates")
        for kind in FILE_KINDS:
            checks = _format_checks(kind)
            values = ", ".join(
                f"({cond}, '{col}', '{reason.replace(chr(39), chr(39) * 2)}')"
                for cond, col, reason in checks
            )
            self.cursor.execute(
                f"""INSERT INTO t_errors
                    SELECT s.file, s.line, e.col, e.reason FROM s_{kind.code} s
                    CROSS JOIN LATERAL (VALUES {values}) e(bad, col, reason)
                    WHERE NOT coalesce({_cheap_ok(kind)}, false) AND e.bad"""
            )
        self.cursor.execute("CREATE INDEX ON t_errors (file, line)")
        self.cursor.execute("ANALYZE t_errors")

    def _type_tables(self):
        c = self.cursor
        for kind in FILE_KINDS:
            typed = ", ".join(_typed(col) for col in kind.columns)
            c.execute(
                f"CREATE TEMP TABLE t_{kind.code} ON COMMIT DROP AS "
                f"SELECT s.seq, s.file, s.line, {typed} FROM s_{kind.code} s "
                # a line with a wrong value is reported once, not again by the checks across
                "WHERE NOT EXISTS (SELECT 1 FROM t_errors e WHERE e.file = s.file "
                "AND e.line = s.line)"
            )
        # What the other files may refer to (wrong lines included: no cascade of errors).
        c.execute(
            "CREATE TEMP TABLE r_contracts ON COMMIT DROP AS "
            "SELECT DISTINCT btrim(numero_contrat) AS number FROM s_contrats"
        )
        piece = _typed(KINDS_BY_CODE["clients"].columns[0]).rsplit(" AS ", 1)[0]
        c.execute(
            "CREATE TEMP TABLE r_clients ON COMMIT DROP AS "
            f"SELECT DISTINCT {piece} AS type, btrim(s.numero_piece) AS number "
            "FROM s_clients s"
        )
        for kind in FILE_KINDS:
            c.execute(f"DROP TABLE s_{kind.code}")
        c.execute("CREATE INDEX ON t_clients (type_piece, numero_piece)")
        c.execute("CREATE INDEX ON t_contrats (numero_contrat)")
        for kind in FILE_KINDS:
            c.execute(f"ANALYZE t_{kind.code}")

    def _check_across(self) -> bool:
        self.on_step("Vérification des références")
        for code in KIND_ORDER:
            for query in CROSS_CHECKS[code]:
                self.cursor.execute(f"INSERT INTO t_errors {query}", {"today": self.today})
        return self._collect()

    # -- writing ------------------------------------------------------------------------------

    def _count(self, label: str, n: int):
        self.report.counts[label] = self.report.counts.get(label, 0) + max(n, 0)

    def _sliced(self, table: str, sql: str, params: dict | None = None) -> int:
        """Run an INSERT ... FROM {table} t ... WHERE {slice} over slices of the table's lines
        (the progress bar moves between them); the number of rows written."""
        c = self.cursor
        c.execute(f"SELECT min(seq), max(seq) FROM {table}")
        low, high = c.fetchone()
        if low is None:
            return 0
        total = 0
        start = low
        while start <= high:
            c.execute(
                sql.replace("{slice}", "t.seq >= %(lo)s AND t.seq < %(hi)s"),
                {**(params or {}), "lo": start, "hi": start + self.SLICE},
            )
            total += max(c.rowcount, 0)
            self.progress.advance(min(self.SLICE, high - start + 1))
            start += self.SLICE
        return total

    def _write(self):
        c = self.cursor
        p = {
            "today": self.today,
            "actor": self.actor.pk if self.actor else None,
            "label_day": f"{self.today:%d/%m/%Y}",
        }
        self.on_step("Écriture")
        c.execute(
            "SELECT (SELECT count(*) FROM t_contrats) + (SELECT count(*) FROM t_clients)"
            " + (SELECT count(*) FROM t_releves)"
        )
        self.progress.start("Écriture", c.fetchone()[0])
        self._params = p
        self._write_customers()
        self._write_new_contracts()
        self._take_existing_contracts()
        self._write_deposits()
        self._write_unpaid_invoices()
        self._settle_paid_invoices()
        self._write_advances()
        self._write_billed_readings()
        self._notice_differences()
        self.progress.close()

    def _write_customers(self) -> None:
        """The customers, by their identity document (an existing one is kept)."""
        self._count(
            "Clients créés",
            self._sliced(
                "t_clients",
                """
            INSERT INTO contracts_customer (kind, name, id_document_type, id_document_number,
                                            phone, address)
            SELECT t.type_client, t.nom, t.type_piece, t.numero_piece,
                   '+229' || CASE WHEN length(t.telephone) = 8 THEN '01' ELSE '' END
                          || t.telephone,
                   t.adresse
            FROM t_clients t WHERE {slice}
            ON CONFLICT (id_document_type, id_document_number) DO NOTHING""",
            ),
        )
        # Benin's numbers have ten digits since 30 November 2024: "01" before a former one.
        c = self.cursor
        c.execute("SELECT count(*) FROM t_clients t WHERE length(t.telephone) = 8")
        converted = c.fetchone()[0]
        if converted:
            c.execute("""SELECT t.telephone FROM t_clients t WHERE length(t.telephone) = 8
                         ORDER BY t.telephone LIMIT 5""")
            shown = ", ".join(f"{n} → 01{n}" for (n,) in c.fetchall())
            self.report.notices.append(
                f"{converted} numéro(s) de téléphone à 8 chiffres converti(s) au format à "
                f"10 chiffres (01 devant, depuis le 30 novembre 2024) : {shown}"
                + (" …" if converted > 5 else "")
            )

    def _write_new_contracts(self) -> None:
        """New contracts: their delivery points and meters first (existing free ones reused)."""
        c = self.cursor
        c.execute("""CREATE TEMP TABLE t_new_rows ON COMMIT DROP AS
                     SELECT t.* FROM t_contrats t
                     WHERE NOT EXISTS (SELECT 1 FROM contracts_contract c
                                       WHERE c.number = t.numero_contrat)""")
        c.execute("""INSERT INTO contracts_deliverypoint (reference, address, agency_id, voltage,
                                                          status)
                     SELECT t.point_livraison, t.adresse_point_livraison, a.id, k.voltage,
                            'active'
                     FROM t_new_rows t JOIN contracts_agency a ON a.code = t.agence
                     JOIN billing_tariffcategory k ON k.code = t.categorie
                     ON CONFLICT (reference) DO NOTHING""")
        self._count("Points de livraison créés", c.rowcount)
        c.execute("""UPDATE contracts_deliverypoint p SET status = 'active'
                     FROM t_new_rows t WHERE p.reference = t.point_livraison
                       AND p.status <> 'active'""")
        self._count("Points de livraison remis en service", c.rowcount)
        c.execute("""INSERT INTO contracts_meter (serial, digits, status)
                     SELECT t.numero_compteur, t.chiffres_compteur, 'installed' FROM t_new_rows t
                     ON CONFLICT (serial) DO NOTHING""")
        self._count("Compteurs créés", c.rowcount)
        c.execute("""UPDATE contracts_meter m SET status = 'installed'
                     FROM t_new_rows t WHERE m.serial = t.numero_compteur
                       AND m.status <> 'installed'""")
        self._count("Compteurs reposés", c.rowcount)
        c.execute("CREATE TEMP TABLE t_new (id bigint) ON COMMIT DROP")
        self._count(
            "Contrats créés",
            self._sliced(
                "t_new_rows",
                """
            WITH made AS (
                INSERT INTO contracts_contract (number, agency_id, customer_id, delivery_point_id,
                    meter_id, tariff_category_id, subscribed_power_kva, start_date, status,
                    last_billed_index, last_billed_date)
                SELECT t.numero_contrat, a.id, cu.id, p.id, m.id, k.id, t.puissance_kva,
                       t.date_effet, 'active', t.dernier_index, t.date_dernier_index
                FROM t_new_rows t
                JOIN contracts_agency a ON a.code = t.agence
                JOIN billing_tariffcategory k ON k.code = t.categorie
                JOIN contracts_customer cu ON cu.id_document_type = t.type_piece_client
                     AND cu.id_document_number = t.numero_piece_client
                JOIN contracts_deliverypoint p ON p.reference = t.point_livraison
                JOIN contracts_meter m ON m.serial = t.numero_compteur
                WHERE {slice}
                RETURNING id)
            INSERT INTO t_new SELECT id FROM made""",
            ),
        )

    def _take_existing_contracts(self) -> None:
        """The existing contracts concerned, locked before their requests are looked at (a request
        opened meanwhile waits for the import, one opened before is seen); those with a request in
        progress kept as they are and listed; the others' last billed index brought forward."""
        c = self.cursor
        c.execute(f"""SELECT c.id FROM contracts_contract c WHERE c.number IN ({REFERENCED})
                        AND c.id NOT IN (SELECT id FROM t_new)
                      ORDER BY c.id FOR NO KEY UPDATE""")
        c.execute("SELECT (SELECT count(*) FROM t_contrats) - (SELECT count(*) FROM t_new_rows)")
        self.progress.advance(c.fetchone()[0])  # the contracts already there
        c.execute(CONTRACT_IDS)
        c.execute("CREATE UNIQUE INDEX ON t_ids (number)")
        c.execute("ANALYZE t_ids")
        # Existing contracts: a request in progress keeps them as they are; listed.
        c.execute("""SELECT number, request FROM t_ids WHERE request IS NOT NULL
                     OR status = 'ending' ORDER BY number""")
        self.report.busy = [(n, r or "en résiliation") for n, r in c.fetchall()]
        c.execute("SELECT count(*) FROM t_ids WHERE status = 'terminated'")
        if terminated := c.fetchone()[0]:
            self.report.notices.append(
                f"{terminated} contrat(s) déjà résilié(s) ici : laissé(s) tel(s) quel(s)."
            )
        c.execute("""CREATE TEMP TABLE t_free ON COMMIT DROP AS
                     SELECT id, number FROM t_ids
                     WHERE request IS NULL AND status = 'active'""")
        c.execute("CREATE UNIQUE INDEX ON t_free (number)")
        c.execute("ANALYZE t_free")
        c.execute("""UPDATE contracts_contract c
                     SET last_billed_index = t.dernier_index,
                         last_billed_date = t.date_dernier_index
                     FROM t_contrats t
                     WHERE t.numero_contrat = c.number AND c.id IN (SELECT id FROM t_free)
                       AND c.id NOT IN (SELECT id FROM t_new)
                       AND t.date_dernier_index > c.last_billed_date""")
        self._count("Contrats mis à jour (dernier index facturé)", c.rowcount)

    def _write_deposits(self) -> None:
        """The deposits of the contracts that have none yet."""
        c = self.cursor
        c.execute("""INSERT INTO contracts_deposit (contract_id, amount, paid_on, payer_name,
                         payer_id_document_type, payer_id_document_number, status)
                     SELECT f.id, t.montant, t.verse_le, t.nom_deposant, t.type_piece_deposant,
                            t.numero_piece_deposant, 'held'
                     FROM t_depots t JOIN t_free f ON f.number = t.numero_contrat
                     WHERE NOT EXISTS (SELECT 1 FROM contracts_deposit d
                                       WHERE d.contract_id = f.id)""")
        self._count("Dépôts de garantie créés", c.rowcount)

    def _write_unpaid_invoices(self) -> None:
        """The unpaid invoices not known yet, each entered into the account."""
        c = self.cursor
        p = self._params
        c.execute(
            """WITH made AS (
                         INSERT INTO billing_invoice (contract_id, kind, state, number, issued_on,
                             period_start, period_end, rollover, consumption, days, vat_rate,
                             vat_base, vat_amount, total, unpaid_total, advances_total,
                             deposit_amount, balance)
                         SELECT f.id, 'consumption', 'validated', t.numero_facture, t.emise_le,
                                t.debut_periode, t.fin_periode, false, 0, 0, 0, 0, 0, t.montant,
                                0, 0, 0, t.montant
                         FROM t_impayes t JOIN t_free f ON f.number = t.numero_contrat
                         WHERE NOT EXISTS (SELECT 1 FROM billing_invoice i
                                           WHERE i.number = t.numero_facture)
                         RETURNING id, contract_id, issued_on, number, total)
                     INSERT INTO billing_accountentry (contract_id, kind, posted_on, label, debit,
                         credit, invoice_id, created_by_id, created_at, source_reference)
                     SELECT contract_id, 'invoice', issued_on,
                            'Facture de consommation ' || number, total, 0, id, %(actor)s, now(),
                            ''
                     FROM made""",
            p,
        )
        self._count("Factures impayées reprises", c.rowcount)

    def _settle_paid_invoices(self) -> None:
        """The extraction's contracts' invoices no longer unpaid were settled at the billing
        system: the payment entered into the account, then the invoice settled."""
        c = self.cursor
        p = self._params
        c.execute("CREATE INDEX ON t_impayes (numero_facture)")
        c.execute("""CREATE TEMP TABLE t_paid ON COMMIT DROP AS
                     SELECT i.id, i.contract_id, i.number, i.total
                     FROM billing_invoice i
                     JOIN t_free f ON f.id = i.contract_id
                     JOIN t_contrats t ON t.numero_contrat = f.number
                     JOIN contracts_contract c ON c.id = f.id
                     -- the contracts of this extraction, unless it is older than what is known
                     WHERE t.date_dernier_index >= c.last_billed_date
                       AND i.kind = 'consumption' AND i.state = 'validated'
                       AND NOT EXISTS (SELECT 1 FROM t_impayes p
                                       WHERE p.numero_facture = i.number)""")
        c.execute(
            """INSERT INTO billing_accountentry (contract_id, kind, posted_on, label, debit,
                         credit, invoice_id, created_by_id, created_at, source_reference)
                     SELECT contract_id, 'payment', %(today)s,
                            'Facture ' || number || ' réglée au système de facturation '
                            || '(extraction importée le ' || %(label_day)s || ')',
                            0, total, id, %(actor)s, now(), 'reglement:' || number
                     FROM t_paid""",
            p,
        )
        c.execute("""SELECT i.id FROM billing_invoice i WHERE i.id IN (SELECT id FROM t_paid)
                     ORDER BY i.id FOR UPDATE""")
        c.execute("""UPDATE billing_invoice SET state = 'settled'
                     WHERE id IN (SELECT id FROM t_paid)""")
        self._count("Factures réglées au système de facturation", c.rowcount)

    def _write_advances(self) -> None:
        """The advances not entered yet (by their receipt's reference)."""
        c = self.cursor
        p = self._params
        c.execute(
            """INSERT INTO billing_accountentry (contract_id, kind, posted_on, label, debit,
                         credit, invoice_id, created_by_id, created_at, source_reference)
                     SELECT f.id, 'advance', t.date, 'Avance en compte (reçu ' || t.reference
                            || ')', 0, t.montant, NULL, %(actor)s, now(),
                            'avance:' || t.reference
                     FROM t_avances t JOIN t_free f ON f.number = t.numero_contrat
                     WHERE NOT EXISTS (SELECT 1 FROM billing_accountentry e
                                       WHERE e.contract_id = f.id
                                         AND e.source_reference = 'avance:' || t.reference)""",
            p,
        )
        self._count("Avances reprises", c.rowcount)

    def _write_billed_readings(self) -> None:
        """The billed readings (the usual consumption); one already there is kept, and said."""
        c = self.cursor
        self._count(
            "Relevés facturés repris",
            self._sliced(
                "t_releves",
                """
            INSERT INTO billing_billedreading (contract_id, period_end, index, days, consumption)
            SELECT f.id, t.date_releve, t.index, t.jours, t.consommation
            FROM t_releves t JOIN t_free f ON f.number = t.numero_contrat
            WHERE {slice}
            ON CONFLICT (contract_id, period_end) DO NOTHING""",
            ),
        )
        c.execute("""SELECT count(*) FROM t_releves t JOIN t_free f ON f.number = t.numero_contrat
                     JOIN billing_billedreading b ON b.contract_id = f.id
                      AND b.period_end = t.date_releve
                     WHERE (b.index, b.days, b.consumption)
                           <> (t.index, t.jours, t.consommation)""")
        if differ := c.fetchone()[0]:
            self.report.notices.append(
                f"{differ} relevé(s) déjà enregistré(s) avec d'autres valeurs : conservé(s)."
            )

    def _notice_differences(self):
        """Existing contracts whose other fields differ: kept as they are, said."""
        c = self.cursor
        c.execute("""SELECT t.numero_contrat FROM t_contrats t
                     JOIN contracts_contract c ON c.number = t.numero_contrat
                     JOIN contracts_agency a ON a.id = c.agency_id
                     JOIN contracts_customer cu ON cu.id = c.customer_id
                     JOIN contracts_deliverypoint p ON p.id = c.delivery_point_id
                     JOIN contracts_meter m ON m.id = c.meter_id
                     JOIN billing_tariffcategory k ON k.id = c.tariff_category_id
                     WHERE c.id NOT IN (SELECT id FROM t_new)
                       AND (a.code, cu.id_document_type, cu.id_document_number, k.code,
                            c.subscribed_power_kva, c.start_date, p.reference, m.serial)
                           IS DISTINCT FROM
                           (t.agence, t.type_piece_client, t.numero_piece_client, t.categorie,
                            t.puissance_kva, t.date_effet, t.point_livraison, t.numero_compteur)
                     ORDER BY 1""")
        numbers = [n for (n,) in c.fetchall()]
        if numbers:
            shown = ", ".join(numbers[:20]) + (" …" if len(numbers) > 20 else "")
            self.report.notices.append(
                f"{len(numbers)} contrat(s) déjà enregistré(s) diffèrent sur le client, le point "
                f"de livraison, le compteur, la catégorie, la puissance ou la date d'effet ; "
                f"seuls le dernier index et les impayés sont repris d'une extraction : {shown}"
            )


@functools.cache
def _constraint_messages() -> dict[str, str]:
    """The message each model gives its constraints, by the constraint's name (one text for
    the forms, the admin and this report)."""
    return {
        constraint.name: str(constraint.violation_error_message)
        for model in apps.get_models()
        for constraint in model._meta.constraints
        if constraint.violation_error_message != constraint.default_violation_error_message
    }


def _reason(error: Exception) -> str:
    cause = getattr(error, "__cause__", None)
    diag = getattr(cause, "diag", None)
    name = getattr(diag, "constraint_name", None)
    return _constraint_messages().get(name, str(cause or error).splitlines()[0])


def _copy_problem(error: Exception, file_name: str | None) -> Problem | None:
    """A file that COPY could not read (columns, quotes, encoding): its line, in French."""
    if file_name is None:
        return None
    cause = getattr(error, "__cause__", None) or error
    diag = getattr(cause, "diag", None)
    context = getattr(diag, "context", "") or ""
    found = re.search(r"line (\d+)", context)
    line = int(found.group(1)) + 1 if found else None
    message = str(getattr(diag, "message_primary", "") or cause)
    if "extra data" in message:
        reason = (
            "trop de colonnes (un point-virgule de trop, ou une valeur à mettre entre guillemets)"
        )
    elif "missing data" in message:
        reason = "colonnes manquantes sur cette ligne"
    elif "encoding" in message or "byte sequence" in message:
        reason = "caractères qui ne sont pas en UTF-8 : enregistrez le fichier en « CSV UTF-8 »"
    elif "quoted" in message:
        reason = "guillemet ouvert et jamais fermé"
    else:
        reason = f"ligne illisible ({message})"
    return Problem(file_name, line, "", reason)
