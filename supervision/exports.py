"""Exports of a search as CSV or XLSX, in constant memory: the rows are read from the database
in chunks (a server-side cursor) and written as they come. CSV is streamed to the browser as it
is written; an XLSX file is a zip that can only be sent once closed, so XlsxWriter writes it
row by row to a temporary file (its constant-memory mode), which is then sent and removed.

French habits: `;` between CSV fields and a byte-order mark (French spreadsheets open it as
UTF-8), dates as 27/11/2026, amounts as plain numbers."""

import csv
import datetime as dt
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import xlsxwriter
from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone

from billing.enums import (
    InvoiceKind,
    InvoiceState,
    PaymentMode,
    SettlementKind,
)
from billing.models import CreditNote, Invoice, Settlement
from contracts.enums import IdDocumentType, RequestState, Role, TerminationKind
from contracts.models import TerminationEvent
from procedure.selectors import ACTION_LABELS

CHUNK = 2000
FORMATS = ("csv", "xlsx")


def _label(choices) -> Callable:
    labels = dict(choices)
    return lambda value: labels.get(value, value or "")


def _yes_no(value) -> str:
    return "oui" if value else "non"


@dataclass(frozen=True)
class Column:
    header: str
    path: str  # an ORM path or annotation, read with values_list
    convert: Callable | None = None  # to a label; dates and numbers are kept as they are


@dataclass(frozen=True)
class Export:
    title: str  # the sheet's name and the file's
    columns: list[Column]
    order: tuple[str, ...]


REQUESTS = Export(
    "Demandes",
    [
        Column("N° de demande", "pk"),
        Column("Agence", "agency__name"),
        Column("N° de contrat", "contract__number"),
        Column("Client", "contract__customer__name"),
        Column("Type", "kind", _label(TerminationKind.choices)),
        Column("État", "state", _label(RequestState.choices)),
        Column("Déposée le", "created_at"),
        Column("Dans l'état depuis le", "state_since"),
        Column("Fin du délai", "deadline"),
        Column("En retard", "late", _yes_no),
        Column("Demandeur", "requester_name"),
        Column("Pièce", "requester_id_document_type", _label(IdDocumentType.choices)),
        Column("N° de pièce", "requester_id_document_number"),
        Column("Solde (FCFA)", "balance"),
        Column("Clôturée le", "closed_at"),
    ],
    (),  # the search's own order
)
EVENTS = Export(
    "Evenements",
    [
        Column("N° de demande", "request_id"),
        Column("N° de contrat", "request__contract__number"),
        Column("Le", "at"),
        Column("Étape", "step"),
        Column("Action", "action", _label(ACTION_LABELS)),
        Column("De l'état", "from_state", _label(RequestState.choices)),
        Column("À l'état", "to_state", _label(RequestState.choices)),
        Column("Agent", "actor__username"),
        Column("Rôle", "actor_role", _label([*Role.choices, ("system", "Système")])),
    ],
    ("request_id", "at", "id"),
)
INVOICES = Export(
    "Factures",
    [
        Column("N° de facture", "number"),
        Column("N° de demande", "request_id"),
        Column("N° de contrat", "contract__number"),
        Column("Nature", "kind", _label(InvoiceKind.choices)),
        Column("État", "state", _label(InvoiceState.choices)),
        Column("Émise le", "issued_on"),
        Column("Consommation (kWh)", "consumption"),
        Column("Montant TTC (FCFA)", "total"),
        Column("Impayés repris (FCFA)", "unpaid_total"),
        Column("Avances (FCFA)", "advances_total"),
        Column("Dépôt de garantie (FCFA)", "deposit_amount"),
        Column("Solde (FCFA)", "balance"),
        Column("Validée par", "validated_by__username"),
    ],
    ("request_id", "id"),
)
CREDIT_NOTES = Export(
    "Avoirs",
    [
        Column("N° d'avoir", "number"),
        Column("N° de demande", "request_id"),
        Column("Facture annulée", "invoice__number"),
        Column("Émis le", "issued_on"),
        Column("Motif", "reason"),
        Column("Montant (FCFA)", "total"),
        Column("Par", "created_by__username"),
    ],
    ("request_id", "id"),
)
SETTLEMENTS = Export(
    "Reglements",
    [
        Column("N° de reçu", "number"),
        Column("Le", "created_at"),
        Column("Agence", "agency__name"),
        Column("Caissier", "cashier__username"),
        Column("Nature", "kind", _label(SettlementKind.choices)),
        Column("Mode", "mode", _label(PaymentMode.choices)),
        Column("Référence", "reference"),
        Column("Montant (FCFA)", "amount"),
        Column("Facture", "invoice__number"),
        Column("N° de contrat", "contract__number"),
        Column("Bénéficiaire", "beneficiary_name"),
    ],
    ("created_at", "id"),
)


def requests_export(kind: str, requests: QuerySet) -> tuple[Export, QuerySet]:
    """What an export of the search holds: its requests, or their events, invoices, credit
    notes, settlements, or the advances taken on their contracts."""
    ids = requests.order_by().values("pk")
    match kind:
        case "demandes":
            return REQUESTS, requests
        case "evenements":
            return EVENTS, TerminationEvent.objects.filter(request__in=ids)
        case "factures":
            return INVOICES, Invoice.objects.filter(request__in=ids)
        case "avoirs":
            return CREDIT_NOTES, CreditNote.objects.filter(request__in=ids)
        case "reglements":
            return SETTLEMENTS, Settlement.objects.filter(invoice__request__in=ids)
        case "avances":
            contracts = requests.order_by().values("contract_id")
            return SETTLEMENTS, Settlement.objects.filter(
                kind=SettlementKind.ADVANCE, contract__in=contracts
            )
    raise KeyError(kind)


EXPORT_KINDS = {
    "demandes": "Demandes",
    "evenements": "Événements",
    "factures": "Factures",
    "avoirs": "Avoirs",
    "reglements": "Règlements",
    "avances": "Avances",
}


def rows(export: Export, qs: QuerySet) -> Iterator[tuple]:
    if export.order:
        qs = qs.order_by(*export.order)
    converters = [c.convert for c in export.columns]
    for row in qs.values_list(*[c.path for c in export.columns]).iterator(chunk_size=CHUNK):
        yield tuple(
            convert(value) if convert else value
            for convert, value in zip(converters, row, strict=True)
        )


# A spreadsheet takes a cell starting with one of these for a formula: a name typed "=..." at
# the counter must stay text when the CSV is opened (XLSX cells are written as strings anyway).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if value is None:
        return ""
    return value


class _Line:
    """csv.writer writes into this and gets the line back."""

    def write(self, value: str) -> str:
        return value


def csv_response(export: Export, data: Iterable[tuple], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Line(), delimiter=";")

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow([c.header for c in export.columns])
        batch = []
        for row in data:
            batch.append(writer.writerow([_text(v) for v in row]))
            if len(batch) >= 500:
                yield "".join(batch)
                batch = []
        yield "".join(batch)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def xlsx_response(export: Export, data: Iterable[tuple], filename: str) -> FileResponse:
    # The file is removed from the directory at once; the open handle keeps it until sent.
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (closed by the response)
    workbook = xlsxwriter.Workbook(
        handle, {"constant_memory": True, "tmpdir": tempfile.gettempdir()}
    )
    sheet = workbook.add_worksheet(export.title[:31])
    bold = workbook.add_format({"bold": True})
    day = workbook.add_format({"num_format": "dd/mm/yyyy"})
    moment = workbook.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    for col, column in enumerate(export.columns):
        sheet.write_string(0, col, column.header, bold)
        sheet.set_column(col, col, max(12, len(column.header) + 2))
    for r, row in enumerate(data, start=1):
        for col, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, dt.datetime):
                sheet.write_datetime(r, col, timezone.localtime(value).replace(tzinfo=None), moment)
            elif isinstance(value, dt.date):
                sheet.write_datetime(r, col, value, day)
            elif isinstance(value, bool):
                sheet.write_string(r, col, _yes_no(value))
            elif isinstance(value, int):
                sheet.write_number(r, col, value)
            else:
                sheet.write_string(r, col, str(value))
    sheet.freeze_panes(1, 0)
    workbook.close()
    handle.seek(0)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"{filename}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def respond(export: Export, qs: QuerySet, fmt: str, filename: str):
    data = rows(export, qs)
    if fmt == "xlsx":
        return xlsx_response(export, data, filename)
    return csv_response(export, data, filename)
