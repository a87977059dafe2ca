"""Writes on invoices, the account ledger, the cash desk and the printed documents. Each
function locks what it changes and checks the actor's role and agency; the procedure
(procedure/services.py) calls them inside its step's transaction, then moves the
request. The cash desk's advances and the prints are atomic on their own."""

import datetime as dt
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.rules import (
    SOD_SETTLE,
    DraftChanged,
    DutiesRefused,
    StepRefused,
    check_agency,
    check_other_person,
    check_role,
)
from billing.computation import (
    Computation,
    ComputationError,
    balance,
    compute_consumption_invoice,
    compute_subscription_invoice,
    consumption_kwh,
    period_days,
)
from billing.documents import (
    copy_marks,
    document_agency_id,
    document_enqueue,
    document_issue,
    stamp_pdf,
)
from billing.enums import (
    DOCUMENT_ISSUERS,
    BeneficiaryQuality,
    DocumentKind,
    DocumentStatus,
    EntryKind,
    InvoiceKind,
    InvoiceState,
    PaymentMode,
    SettlementKind,
    TransferKind,
)
from billing.models import (
    AccountEntry,
    AccountTransfer,
    Attestation,
    AttestationCheck,
    CashClosing,
    CreditNote,
    CreditNoteLine,
    Document,
    DocumentPrint,
    Invoice,
    InvoiceLine,
    RefundAuthorisation,
    Settlement,
    TariffCategory,
)
from billing.selectors import (
    advances_in_account,
    tariff_items_in_force,
    unpaid_invoices,
    usual_consumption,
)
from contracts.enums import OPERATIONAL_ROLES, ContractStatus, DepositStatus, IdDocumentType, Role
from contracts.models import Contract, Deposit, NumberSequence, TerminationRequest, User
from contracts.money import format_fcfa
from handoff.enums import RecordKind
from handoff.services import outbox_write

ALREADY_SETTLED = "Cette facture est déjà réglée (reçu {number})."
NOT_TO_SETTLE = "Cette facture n'est pas à régler : elle est « {state} »."
PARTIAL_REFUSED = (
    "Le montant doit être le solde entier : {expected}. "
    "Les paiements partiels ne sont pas acceptés."
)
REFERENCE_REQUIRED = "Indiquez la référence du {mode}."
REFUND_NO_DEPOSIT = (
    "Aucun dépôt de garantie n'est enregistré pour ce contrat : remboursement impossible."
)
REFUND_IDENTITY_MISMATCH = (
    "Remboursement refusé : la pièce présentée ({presented}) n'est pas celle du déposant "
    "({payer}, {expected}). Le remboursement n'est fait qu'à la personne qui a versé le dépôt ; "
    "si sa pièce a changé (renouvellement, héritier, représentant d'une entreprise), le chef de "
    "section peut autoriser un autre bénéficiaire."
)
AUTHORISER_CANNOT_PAY = "Vous avez autorisé ce remboursement : un autre caissier doit le payer."
MAX_AMOUNT = 999_999_999
ADVANCE_POSITIVE = "Le montant de l'avance est compris entre 1 et 999 999 999 FCFA."
ADVANCE_AFTER_BALANCE = (
    "La facture de solde {number} est validée pour ce contrat : réglez la facture de solde, "
    "plus aucune avance n'y est versée."
)
KEY_REUSED = "Ce formulaire a déjà servi pour une autre opération : rechargez la page."
CASH_CLOSED = "Votre caisse du {day} est arrêtée : aucun mouvement ne peut plus y être enregistré."
CLOSING_CHANGED = (
    "Un mouvement a été enregistré à votre caisse depuis l'affichage des totaux : la caisse "
    "n'est pas arrêtée. Vérifiez les nouveaux totaux ci-dessous, puis confirmez."
)
CLOSING_IN_FUTURE = "Une journée à venir ne peut pas être arrêtée."
OWN_CLOSING = "Un arrêté de caisse est contresigné par un autre que le caissier."
ALREADY_COUNTERSIGNED = "Cet arrêté de caisse est déjà contresigné."
CREDIT_AFTER_SETTLEMENT = (
    "Cette facture est réglée : elle ne s'annule plus par un avoir. Une correction passe "
    "désormais par l'apurement du compte client."
)
NOT_TO_CREDIT = (
    "Seule une facture validée et non réglée s'annule par un avoir : elle est « {state} »."
)
REASON_REQUIRED = "Indiquez le motif."
NOT_A_REFUND = "Cette facture n'est pas un remboursement en attente."
PROOF_REQUIRED = "Indiquez la référence du justificatif (acte, procuration, nouvelle pièce…)."
QUALITY_REQUIRED = "Choisissez la qualité du bénéficiaire."
ADVANCE_CONTRACT_CLOSED = "Ce contrat est résilié : aucune avance ne peut y être versée."
DRAFT_ONLY = "Seul un brouillon peut être recalculé ou validé."
# The balance invoice in force: validated, settled or handed to the apurement (not cancelled).
BILLED_STATES = [InvoiceState.VALIDATED, InvoiceState.SETTLED, InvoiceState.TRANSFERRED]
READ_IN_FUTURE = "La date du relevé ne peut pas être dans le futur."
HIGH_CONSUMPTION = (
    "Consommation de {kwh} kWh, plus de trois fois l'habituel ({usual} kWh sur la période) : "
    "vérifiez l'index, puis confirmez-le."
)


def reading_check(
    contract: Contract,
    *,
    index: int,
    read_on: dt.date,
    rollover_confirmed: bool,
    high_consumption_confirmed: bool,
    field: str = "index_read",
) -> int:
    """The consumption since the last billed index, once the reading passes the procedure's
    checks: not below the last index unless a rollover is confirmed, not more than 3 times the
    usual consumption unless confirmed."""
    if read_on > timezone.localdate():
        raise StepRefused(READ_IN_FUTURE, field="read_on")
    try:
        days = period_days(contract.last_billed_date, read_on)
        kwh = consumption_kwh(
            last_index=contract.last_billed_index,
            final_index=index,
            digits=contract.meter.digits,
            rollover=rollover_confirmed,
        )
    except ComputationError as error:
        raise StepRefused(str(error), field=field) from None
    usual = usual_consumption(contract, days)
    if usual and kwh > 3 * usual and not high_consumption_confirmed:
        raise StepRefused(HIGH_CONSUMPTION.format(kwh=kwh, usual=usual), field=field)
    return kwh


def _check_reference(mode: str, reference: str) -> None:
    """A cheque, a mobile money transaction or a transfer is traced by its reference."""
    if mode not in PaymentMode.values:
        raise StepRefused("Choisissez le mode de règlement.", field="mode")
    if mode != PaymentMode.CASH and not reference.strip():
        raise StepRefused(
            REFERENCE_REQUIRED.format(mode=PaymentMode(mode).label.lower()), field="reference"
        )


def _lines(invoice: Invoice, computation: Computation) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            invoice=invoice,
            position=n,
            code=line.code,
            label=line.label,
            quantity=line.quantity,
            unit=line.unit,
            unit_price=line.unit_price,
            amount=line.amount,
            vat_applies=line.vat_applies,
            basis=line.basis,
        )
        for n, line in enumerate(computation.lines, start=1)
    ]


def _write_lines(invoice: Invoice, computation: Computation) -> None:
    invoice.lines.all().delete()
    InvoiceLine.objects.bulk_create(_lines(invoice, computation))


@dataclass(frozen=True)
class InvoicePreview:
    """An invoice computed and shown, not saved: the reprise's two drafts (step 2)."""

    invoice: Invoice
    lines: list[InvoiceLine]

    def fingerprint(self) -> list:
        """What the agent saw: every amount and line, to check nothing changed on validation."""
        return _fingerprint(self.invoice, self.lines)


def _fingerprint(i: Invoice, lines) -> list:
    return [
        i.kind,
        i.contract.number if i.contract_id else None,
        str(i.period_start),
        str(i.period_end),
        i.old_index,
        i.new_index,
        i.consumption,
        i.days,
        i.vat_base,
        i.vat_amount,
        i.total,
        i.unpaid_total,
        i.advances_total,
        i.deposit_amount,
        i.balance,
        [(line.code, line.quantity, line.unit_price, line.amount) for line in lines],
    ]


def digest_of(seen) -> str:
    """The digest of what a page showed before a confirmation (a list of plain values): the
    confirmation carries it, and the service refuses when the figures behind it changed."""
    return hashlib.sha256(json.dumps(seen, ensure_ascii=False, default=str).encode()).hexdigest()


def invoices_digest(invoices) -> str:
    """The digest of invoices a page shows to be acted on as a whole (cancelled by credit notes,
    refunded): which ones, for how much, in which state."""
    return digest_of([[i.number, i.kind, i.total, i.balance, i.state] for i in invoices])


def invoice_digest(invoice: Invoice) -> str:
    """The digest of a saved invoice (a draft shown at step 6) with its lines."""
    return digest_of(_fingerprint(invoice, invoice.lines.all()))  # a prefetch serves


def _consumption(
    contract: Contract,
    *,
    last_index: int,
    last_date: dt.date,
    final_index: int,
    final_date: dt.date,
    rollover: bool,
) -> Computation:
    """The consumption invoice of a period under the grid in force at its end; a computation
    that the rules refuse is a refusal of the step."""
    try:
        return compute_consumption_invoice(
            items=tariff_items_in_force(contract.tariff_category, final_date),
            power_kva=contract.subscribed_power_kva,
            zone=contract.agency.zone,
            last_index=last_index,
            last_date=last_date,
            final_index=final_index,
            final_date=final_date,
            digits=contract.meter.digits,
            rollover=rollover,
        )
    except ComputationError as error:
        raise StepRefused(str(error)) from None


def compute_balance(
    contract: Contract, *, final_index: int, final_date: dt.date, rollover: bool
) -> tuple[Computation, int, int, int]:
    """The consumption part of the balance invoice and what the account holds besides:
    (computation, unpaid invoices, advances, deposit held)."""
    computation = _consumption(
        contract,
        last_index=contract.last_billed_index,
        last_date=contract.last_billed_date,
        final_index=final_index,
        final_date=final_date,
        rollover=rollover,
    )
    unpaid = sum(i.total for i in unpaid_invoices(contract))
    advances = advances_in_account(contract)
    deposit = Deposit.objects.filter(contract=contract, status=DepositStatus.HELD).first()
    return computation, unpaid, advances, deposit.amount if deposit else 0


def _balance_fields(
    contract: Contract, *, final_index: int, final_date: dt.date, rollover: bool
) -> tuple[dict, Computation]:
    computation, unpaid, advances, deposit = compute_balance(
        contract, final_index=final_index, final_date=final_date, rollover=rollover
    )
    fields = {
        "period_start": contract.last_billed_date,
        "period_end": final_date,
        "old_index": contract.last_billed_index,
        "new_index": final_index,
        "rollover": rollover,
        "consumption": computation.consumption,
        "days": computation.days,
        "vat_rate": computation.vat_rate,
        "vat_base": computation.vat_base,
        "vat_amount": computation.vat_amount,
        "total": computation.total,
        "unpaid_total": unpaid,
        "advances_total": advances,
        "deposit_amount": deposit,
        "balance": balance(
            total=computation.total, unpaid=unpaid, advances=advances, deposit=deposit
        ),
    }
    return fields, computation


def balance_invoice_draft(
    request: TerminationRequest,
    *,
    final_index: int,
    final_date: dt.date,
    rollover: bool,
) -> Invoice:
    """Create or recompute the request's balance invoice draft (no number)."""
    contract = request.contract
    fields, computation = _balance_fields(
        contract, final_index=final_index, final_date=final_date, rollover=rollover
    )
    # The invoice in force; one cancelled by a credit note stays aside, under its number.
    invoice = (
        Invoice.objects.select_for_update()
        .filter(request=request, kind=InvoiceKind.BALANCE)
        .exclude(state=InvoiceState.CANCELLED)
        .first()
    ) or Invoice.objects.create(request=request, kind=InvoiceKind.BALANCE, contract=contract)
    if invoice.state != InvoiceState.DRAFT:
        raise StepRefused(DRAFT_ONLY)
    for name, value in fields.items():
        setattr(invoice, name, value)
    invoice.save()
    _write_lines(invoice, computation)
    return invoice


def balance_invoice_preview(
    request: TerminationRequest, *, final_index: int, final_date: dt.date, rollover: bool
) -> InvoicePreview:
    """The balance invoice as it would be validated now, unsaved."""
    contract = request.contract
    fields, computation = _balance_fields(
        contract, final_index=final_index, final_date=final_date, rollover=rollover
    )
    invoice = Invoice(contract=contract, request=request, kind=InvoiceKind.BALANCE, **fields)
    return InvoicePreview(invoice, _lines(invoice, computation))


def subscription_invoice_preview(
    request: TerminationRequest,
    *,
    start_date: dt.date,
    category: TariffCategory | None = None,
    power_kva: int | None = None,
) -> InvoicePreview:
    """The successor's subscription invoice for the category and power chosen for their
    contract (by default the outgoing contract's), unsaved (the contract does not exist yet)."""
    contract = request.contract
    items = tariff_items_in_force(category or contract.tariff_category, start_date)
    power = contract.subscribed_power_kva if power_kva is None else power_kva
    computation = compute_subscription_invoice(items=items, power_kva=power)
    invoice = Invoice(
        request=request,
        kind=InvoiceKind.SUBSCRIPTION,
        period_start=start_date,
        total=computation.total,
        balance=computation.total,
    )
    return InvoicePreview(invoice, _lines(invoice, computation))


def invoice_validate(invoice: Invoice, *, actor: User | None) -> Invoice:
    """Number the draft (gapless per agency and year), freeze it, and enter it in the account.
    A balance invoice also applies the deposit it deducted."""
    invoice = (
        Invoice.objects.select_for_update(of=("self", "contract"))
        .select_related("contract__agency")
        .get(pk=invoice.pk)
    )
    if invoice.state != InvoiceState.DRAFT:
        raise StepRefused(DRAFT_ONLY)
    today = timezone.localdate()
    contract = invoice.contract
    invoice.number = NumberSequence.next("FAC", contract.agency, today.year)
    invoice.state = InvoiceState.VALIDATED
    invoice.issued_on = today
    invoice.validated_by = actor
    invoice.validated_at = timezone.now()
    invoice.save()
    if invoice.total:
        AccountEntry.objects.create(
            contract=contract,
            kind=EntryKind.INVOICE,
            posted_on=today,
            invoice=invoice,
            label=f"{invoice.get_kind_display()} {invoice.number}",
            debit=invoice.total,
            created_by=actor,
        )
    document_enqueue(DocumentKind.INVOICE, invoice)
    if invoice.kind == InvoiceKind.BALANCE:
        # Billing block: from now on the balance invoice is what the customer pays.
        contract.stop_billing()
    if invoice.kind == InvoiceKind.BALANCE and invoice.deposit_amount:
        deposit = Deposit.objects.select_for_update().get(contract=contract)
        deposit.status = DepositStatus.APPLIED
        deposit.save(update_fields=["status"])
        AccountEntry.objects.create(
            contract=contract,
            kind=EntryKind.DEPOSIT_APPLIED,
            posted_on=today,
            invoice=invoice,
            label=f"Dépôt de garantie imputé sur {invoice.number}",
            credit=invoice.deposit_amount,
            created_by=actor,
        )
    return invoice


def subscription_invoice_create(
    request: TerminationRequest, *, successor_contract: Contract, actor: User
) -> Invoice:
    """The successor's subscription invoice (step 2), validated at once."""
    items = tariff_items_in_force(successor_contract.tariff_category, successor_contract.start_date)
    computation = compute_subscription_invoice(
        items=items, power_kva=successor_contract.subscribed_power_kva
    )
    invoice = Invoice.objects.create(
        contract=successor_contract,
        request=request,
        kind=InvoiceKind.SUBSCRIPTION,
        period_start=successor_contract.start_date,
        total=computation.total,
        balance=computation.total,
    )
    _write_lines(invoice, computation)
    return invoice_validate(invoice, actor=actor)


def complementary_invoice_preview(
    request: TerminationRequest, *, final_index: int, final_date: dt.date, rollover: bool = False
) -> InvoicePreview | None:
    """The complementary invoice as it would be issued now, unsaved (shown to the ACFF before
    the codification), or None when the period has neither a day nor a kWh."""
    billed = request.invoices.get(kind=InvoiceKind.BALANCE, state__in=BILLED_STATES)
    final_date = max(final_date, billed.period_end)
    if (final_date - billed.period_end).days == 0 and final_index == billed.new_index:
        return None
    contract = request.contract
    computation = _consumption(
        contract,
        last_index=billed.new_index,
        last_date=billed.period_end,
        final_index=final_index,
        final_date=final_date,
        rollover=rollover,
    )
    invoice = Invoice(
        contract=contract,
        request=request,
        kind=InvoiceKind.COMPLEMENTARY,
        period_start=billed.period_end,
        period_end=final_date,
        old_index=billed.new_index,
        new_index=final_index,
        rollover=rollover,
        consumption=computation.consumption,
        days=computation.days,
        vat_rate=computation.vat_rate,
        vat_base=computation.vat_base,
        vat_amount=computation.vat_amount,
        total=computation.total,
        balance=computation.total,
    )
    return InvoicePreview(invoice, _lines(invoice, computation))


def complementary_invoice_create(
    request: TerminationRequest,
    *,
    final_index: int,
    final_date: dt.date,
    rollover: bool = False,
    actor: User,
) -> Invoice | None:
    """Anticipated termination (BT and MT): the rules of DESIGN §5 for the period from the
    anticipated reading to the removal or final interruption (energy with its tranches scaled
    to the period, fixed charges prorated, levies, VAT). Issued whenever that period has a day
    or a kWh; the difference goes to the account (downstream: apurement de compte client)."""
    preview = complementary_invoice_preview(
        request, final_index=final_index, final_date=final_date, rollover=rollover
    )
    if preview is None:
        return None
    invoice = preview.invoice
    invoice.save()
    InvoiceLine.objects.bulk_create(preview.lines)
    invoice = invoice_validate(invoice, actor=actor)
    contract = invoice.contract
    outbox_write(
        RecordKind.COMPLEMENTARY_INVOICE,
        key=f"complementary_invoice:{invoice.pk}",
        agency_id=contract.agency_id,
        contract_number=contract.number,
        payload={
            "contrat": contract.number,
            "facture": invoice.number,
            "emise_le": invoice.issued_on.isoformat(),
            "periode": [invoice.period_start.isoformat(), invoice.period_end.isoformat()],
            "ancien_index": invoice.old_index,
            "nouvel_index": invoice.new_index,
            "consommation_kwh": invoice.consumption,
            "montant_ttc": invoice.total,
        },
    )
    return invoice


# --- The cash desk ---------------------------------------------------------------------------


def _check_cash_open(actor: User, day: dt.date) -> None:
    """The cashier's desk still open for the day, and kept so until the caller's transaction
    ends: the cashier's row is locked, as the arrêté locks it, so that a movement and the
    arrêté of the same desk never overlap (the arrêté's totals always count every movement)."""
    User.objects.select_for_update().filter(pk=actor.pk).values_list("pk", flat=True).first()
    if CashClosing.objects.filter(cashier=actor, day=day).exists():
        raise StepRefused(CASH_CLOSED.format(day=f"{day:%d/%m/%Y}"))


def _replayed(key: uuid.UUID | None, *, contract_id: int, actor: User) -> Settlement | None:
    """The settlement a form already recorded under this key: a second send of the same form
    records nothing new and shows the first result."""
    if key is None:
        return None
    first = Settlement.objects.filter(idempotency_key=key).first()
    if first is None:
        return None
    if first.contract_id != contract_id or first.cashier_id != actor.pk:
        raise StepRefused(KEY_REUSED)
    first.replayed = True
    return first


def _next_receipt_number(contract: Contract, day: dt.date) -> str:
    return NumberSequence.next("REC", contract.agency, day.year)


def _refund_beneficiary(
    invoice: Invoice, *, actor: User, id_type: str, id_number: str
) -> tuple[str, RefundAuthorisation | None]:
    """Who may receive this refund: the deposit's payer, or the beneficiary the supervisor
    authorised; never shows the expected document number (its last 3 characters at most)."""
    presented = (id_type, id_number.strip().upper())
    deposit = Deposit.objects.filter(contract=invoice.contract).first()
    authorisation = invoice.refund_authorisations.order_by("-authorised_at", "-id").first()
    if deposit is not None and presented == (
        deposit.payer_id_document_type,
        deposit.payer_id_document_number.strip().upper(),
    ):
        return deposit.payer_name, None
    if authorisation is not None and presented == (
        authorisation.beneficiary_id_document_type,
        authorisation.beneficiary_id_document_number.strip().upper(),
    ):
        if authorisation.authorised_by_id == actor.pk:
            raise DutiesRefused(AUTHORISER_CANNOT_PAY)
        return authorisation.beneficiary_name, authorisation
    if deposit is None and authorisation is None:
        raise StepRefused(REFUND_NO_DEPOSIT)
    presented_label = dict(IdDocumentType.choices).get(id_type, "?")
    if authorisation is not None:
        name = authorisation.beneficiary_name
        expected_type = authorisation.get_beneficiary_id_document_type_display()
        expected_number = authorisation.beneficiary_id_document_number
    else:
        name = deposit.payer_name
        expected_type = deposit.get_payer_id_document_type_display()
        expected_number = deposit.payer_id_document_number
    raise StepRefused(
        REFUND_IDENTITY_MISMATCH.format(
            presented=f"{presented_label} n° {id_number.strip()}",
            payer=name,
            expected=f"{expected_type} se terminant par {expected_number.strip()[-3:]}",
        ),
        field="beneficiary_id_document_number",
    )


@transaction.atomic
def invoice_settle(
    invoice: Invoice,
    *,
    actor: User,
    amount: int,
    mode: str = "",
    reference: str = "",
    beneficiary_name: str = "",
    beneficiary_id_document_type: str = "",
    beneficiary_id_document_number: str = "",
    idempotency_key: uuid.UUID | None = None,
) -> Settlement:
    """Step 7: collect the balance, or refund it to the deposit's payer (or to the beneficiary
    the supervisor authorised); exactly once. The procedure calls it with the request locked;
    a complementary invoice is settled alone. A form sent again returns the first settlement,
    marked `replayed`."""
    check_role(actor, Role.CASHIER)
    invoice = (
        Invoice.objects.select_for_update(of=("self", "contract"))
        .select_related("contract__agency")
        .get(pk=invoice.pk)
    )
    check_agency(actor, invoice.contract.agency_id)
    if first := _replayed(idempotency_key, contract_id=invoice.contract_id, actor=actor):
        return first
    existing = Settlement.objects.filter(invoice=invoice).first()
    if existing is not None:
        raise StepRefused(ALREADY_SETTLED.format(number=existing.number))
    if invoice.state != InvoiceState.VALIDATED:
        raise StepRefused(NOT_TO_SETTLE.format(state=invoice.get_state_display()))
    check_other_person(actor, invoice.validated_by_id, SOD_SETTLE)
    today = timezone.localdate()
    _check_cash_open(actor, today)
    due = abs(invoice.balance)
    if amount != due:
        raise StepRefused(PARTIAL_REFUSED.format(expected=format_fcfa(due)), field="amount")
    terms = _settlement_terms(
        invoice,
        actor=actor,
        mode=mode,
        reference=reference,
        beneficiary=(
            beneficiary_name,
            beneficiary_id_document_type,
            beneficiary_id_document_number.strip(),
        ),
    )
    try:
        with transaction.atomic():
            settlement = Settlement.objects.create(
                invoice=invoice,
                contract=invoice.contract,
                agency=invoice.contract.agency,
                number=_next_receipt_number(invoice.contract, today),
                amount=due,
                cashier=actor,
                idempotency_key=idempotency_key,
                **terms,
            )
    except IntegrityError:
        raise StepRefused(ALREADY_SETTLED.format(number="déjà émis")) from None
    document_enqueue(DocumentKind.RECEIPT, settlement)
    _settlement_post(settlement, actor=actor, today=today)
    return settlement


def _settlement_terms(
    invoice: Invoice, *, actor: User, mode: str, reference: str, beneficiary: tuple[str, str, str]
) -> dict:
    """What kind of settlement the balance makes, and to whom a refund goes: the fields of the
    Settlement besides its amount and numbers."""
    if invoice.balance == 0:
        return {"kind": SettlementKind.ZERO, "mode": "", "reference": ""}
    terms = {"mode": mode, "reference": reference.strip()}
    if invoice.balance > 0:
        _check_reference(mode, reference)
        return {**terms, "kind": SettlementKind.COLLECTION}
    _, id_type, id_number = beneficiary  # the name is the payer's or the authorised one's
    name, authorisation = _refund_beneficiary(
        invoice, actor=actor, id_type=id_type, id_number=id_number
    )
    _check_reference(mode, reference)
    return {
        **terms,
        "kind": SettlementKind.REFUND,
        "beneficiary_name": name,
        "beneficiary_id_document_type": id_type,
        "beneficiary_id_document_number": id_number,
        "refund_authorisation": authorisation,
    }


def _settlement_post(settlement: Settlement, *, actor: User, today: dt.date) -> None:
    """The settlement in the customer's account; the invoice (and the unpaid invoices a balance
    took over) settled; a refunded deposit marked so; a successor's deposit recorded."""
    invoice, contract = settlement.invoice, settlement.contract
    if settlement.kind == SettlementKind.COLLECTION:
        AccountEntry.objects.create(
            contract=contract,
            kind=EntryKind.PAYMENT,
            posted_on=today,
            invoice=invoice,
            settlement=settlement,
            label=f"Encaissement {settlement.number} ({settlement.get_mode_display().lower()})",
            credit=settlement.amount,
            created_by=actor,
        )
    elif settlement.kind == SettlementKind.REFUND:
        AccountEntry.objects.create(
            contract=contract,
            kind=EntryKind.REFUND,
            posted_on=today,
            invoice=invoice,
            settlement=settlement,
            label=f"Remboursement {settlement.number} à {settlement.beneficiary_name}",
            debit=settlement.amount,
            created_by=actor,
        )
        Deposit.objects.filter(contract=contract).update(status=DepositStatus.REFUNDED)
    Invoice.objects.filter(pk=invoice.pk).update(state=InvoiceState.SETTLED)
    if invoice.kind == InvoiceKind.BALANCE:
        # The balance took over the unpaid consumption invoices: they are settled with it.
        unpaid_invoices(contract).update(state=InvoiceState.SETTLED)
    if invoice.kind == InvoiceKind.SUBSCRIPTION:
        _record_successor_deposit(invoice, today)


def _record_successor_deposit(invoice: Invoice, today: dt.date) -> None:
    """The successor paid the avance sur consommation: the deposit is theirs."""
    contract = invoice.contract
    line = invoice.lines.filter(code="avance-consommation").first()
    customer = contract.customer
    Deposit.objects.create(
        contract=contract,
        amount=line.amount if line else 0,
        paid_on=today,
        payer_name=customer.name,
        payer_id_document_type=customer.id_document_type,
        payer_id_document_number=customer.id_document_number,
    )


def advance_refusal(contract: Contract, *, cashier: User, cash: bool = True) -> str | None:
    """Why that cashier cannot take an advance on the contract now, or None: its balance
    invoice is validated (the billing block), it is terminated, or (`cash`) the cashier's desk
    is closed for the day. The page shows it instead of the form; the service refuses on it."""
    if contract.status == ContractStatus.ENDING:
        balance_invoice = contract.invoices.filter(
            kind=InvoiceKind.BALANCE, state=InvoiceState.VALIDATED
        ).first()
        return ADVANCE_AFTER_BALANCE.format(
            number=balance_invoice.number if balance_invoice else ""
        )
    if contract.status != ContractStatus.ACTIVE:
        return ADVANCE_CONTRACT_CLOSED
    if cash:
        return cash_closed_refusal(cashier)
    return None


def cash_closed_refusal(cashier: User) -> str | None:
    """Why nothing can be recorded at that cashier's desk today (the arrêté is signed), or None."""
    today = timezone.localdate()
    if CashClosing.objects.filter(cashier=cashier, day=today).exists():
        return CASH_CLOSED.format(day=f"{today:%d/%m/%Y}")
    return None


@transaction.atomic
def account_advance_record(
    contract: Contract,
    *,
    actor: User,
    amount: int,
    mode: str,
    reference: str = "",
    idempotency_key: uuid.UUID | None = None,
) -> Settlement:
    """An avance en compte, at the cash desk, while the contract is active and no balance
    invoice is validated: a numbered receipt (REC-…) in the day's journal, and a credit on the
    account. A form sent again returns the first receipt, marked `replayed`."""
    check_role(actor, Role.CASHIER)
    # The contract's lock serialises two sends of one form: the second sees the first's key.
    contract = Contract.objects.select_for_update().select_related("agency").get(pk=contract.pk)
    check_agency(actor, contract.agency_id)
    if first := _replayed(idempotency_key, contract_id=contract.pk, actor=actor):
        return first
    if refusal := advance_refusal(contract, cashier=actor, cash=False):
        raise StepRefused(refusal)
    if not 0 < amount <= MAX_AMOUNT:
        raise StepRefused(ADVANCE_POSITIVE, field="amount")
    _check_reference(mode, reference)
    today = timezone.localdate()
    _check_cash_open(actor, today)
    settlement = Settlement.objects.create(
        contract=contract,
        agency=contract.agency,
        kind=SettlementKind.ADVANCE,
        number=_next_receipt_number(contract, today),
        amount=amount,
        mode=mode,
        reference=reference.strip(),
        cashier=actor,
        idempotency_key=idempotency_key,
    )
    label = f"Avance en compte {settlement.number} ({PaymentMode(mode).label.lower()}"
    label += f", réf. {reference.strip()})" if reference.strip() else ")"
    AccountEntry.objects.create(
        contract=contract,
        kind=EntryKind.ADVANCE,
        posted_on=today,
        settlement=settlement,
        label=label,
        credit=amount,
        created_by=actor,
    )
    document_enqueue(DocumentKind.RECEIPT, settlement)
    return settlement


# --- Corrections and transfers ---------------------------------------------------------------


def credit_note_issue(invoice: Invoice, *, actor: User, reason: str) -> CreditNote:
    """Cancel a validated, unsettled invoice by a credit note for its full amount, in the
    caller's transaction: its own number, lines that are the exact negatives of the invoice's,
    the ledger's counter-entries (the deposit the balance invoice applied is held again), the
    invoice "annulée par avoir". After settlement nothing is reversed here."""
    invoice = (
        Invoice.objects.select_for_update()
        .select_related("contract__agency")
        .prefetch_related("lines")
        .get(pk=invoice.pk)
    )
    if Settlement.objects.filter(invoice=invoice).exists() or invoice.state == (
        InvoiceState.SETTLED
    ):
        raise StepRefused(CREDIT_AFTER_SETTLEMENT)
    if invoice.state != InvoiceState.VALIDATED:
        raise StepRefused(NOT_TO_CREDIT.format(state=invoice.get_state_display()))
    if not reason.strip():
        raise StepRefused(REASON_REQUIRED, field="reason")
    today = timezone.localdate()
    contract = invoice.contract
    note = CreditNote.objects.create(
        invoice=invoice,
        contract=contract,
        request=invoice.request,
        number=NumberSequence.next("AV", contract.agency, today.year),
        issued_on=today,
        reason=reason.strip(),
        total=-invoice.total,
        created_by=actor,
    )
    CreditNoteLine.objects.bulk_create(
        [
            CreditNoteLine(
                credit_note=note,
                position=line.position,
                label=line.label,
                basis=line.basis,
                amount=-line.amount,
                vat_applies=line.vat_applies,
            )
            for line in invoice.lines.all()
        ]
        + (
            [
                CreditNoteLine(
                    credit_note=note,
                    position=len(invoice.lines.all()) + 1,
                    label=f"TVA {invoice.vat_rate} %",
                    basis=f"{invoice.vat_rate} % × {format_fcfa(invoice.vat_base)}",
                    amount=-invoice.vat_amount,
                    vat_applies=False,
                )
            ]
            if invoice.vat_amount
            else []
        )
    )
    if invoice.total:
        AccountEntry.objects.create(
            contract=contract,
            kind=EntryKind.CREDIT_NOTE,
            posted_on=today,
            invoice=invoice,
            credit_note=note,
            label=f"Avoir {note.number} sur {invoice.number}",
            credit=invoice.total,
            created_by=actor,
        )
    if invoice.kind == InvoiceKind.BALANCE and invoice.deposit_amount:
        deposit = Deposit.objects.select_for_update().get(contract=contract)
        deposit.status = DepositStatus.HELD
        deposit.save(update_fields=["status"])
        AccountEntry.objects.create(
            contract=contract,
            kind=EntryKind.DEPOSIT_RESTORED,
            posted_on=today,
            invoice=invoice,
            credit_note=note,
            label=f"Dépôt de garantie réintégré (avoir {note.number})",
            debit=invoice.deposit_amount,
            created_by=actor,
        )
    Invoice.objects.filter(pk=invoice.pk).update(state=InvoiceState.CANCELLED)
    if invoice.kind == InvoiceKind.BALANCE:
        contract.resume_billing()
    document_enqueue(DocumentKind.CREDIT_NOTE, note)
    return note


def refund_authorise(
    invoice: Invoice,
    *,
    actor: User,
    beneficiary_name: str,
    beneficiary_id_document_type: str,
    beneficiary_id_document_number: str,
    quality: str,
    proof_reference: str,
) -> RefundAuthorisation:
    """The supervisor names who may receive this refund, with a proof; the cashier then pays
    that beneficiary (never the one who authorised)."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.state != InvoiceState.VALIDATED or invoice.balance >= 0:
        raise StepRefused(NOT_A_REFUND)
    if not proof_reference.strip():
        raise StepRefused(PROOF_REQUIRED, field="proof_reference")
    if quality not in BeneficiaryQuality.values:
        raise StepRefused(QUALITY_REQUIRED, field="quality")
    return RefundAuthorisation.objects.create(
        invoice=invoice,
        beneficiary_name=beneficiary_name.strip(),
        beneficiary_id_document_type=beneficiary_id_document_type,
        beneficiary_id_document_number=beneficiary_id_document_number.strip(),
        quality=quality,
        proof_reference=proof_reference.strip(),
        authorised_by=actor,
    )


def balance_transfer(invoice: Invoice, *, today: dt.date, delay_days: int) -> AccountTransfer:
    """After its délai, a balance nobody came to settle is handed to the apurement: a debt to
    recovery, a refund left as a credit on the account. The ledger does not move."""
    invoice = Invoice.objects.select_for_update().select_related("contract").get(pk=invoice.pk)
    if invoice.state != InvoiceState.VALIDATED:
        raise StepRefused(NOT_TO_SETTLE.format(state=invoice.get_state_display()))
    if invoice.balance > 0:
        kind = TransferKind.RECOVERY
    elif invoice.balance < 0:
        kind = TransferKind.CREDIT
    else:
        kind = TransferKind.ZERO
    transfer = AccountTransfer.objects.create(
        invoice=invoice,
        contract=invoice.contract,
        agency_id=invoice.contract.agency_id,
        kind=kind,
        amount=abs(invoice.balance),
        since=invoice.issued_on,
        transferred_on=today,
        delay_days=delay_days,
    )
    Invoice.objects.filter(pk=invoice.pk).update(state=InvoiceState.TRANSFERRED)
    if kind == TransferKind.RECOVERY:
        outbox_write(
            RecordKind.RECOVERY,
            key=f"recovery:{transfer.pk}",
            agency_id=transfer.agency_id,
            contract_number=invoice.contract.number,
            payload={
                "contrat": invoice.contract.number,
                "facture": invoice.number,
                "montant": transfer.amount,
                "en_attente_depuis": transfer.since.isoformat(),
                "transfere_le": transfer.transferred_on.isoformat(),
            },
        )
    return transfer


def cash_day_totals(cashier: User, day: dt.date) -> dict:
    """One cashier's movements of a day: totals per mode of collections, refunds, advances."""
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    movements = list(
        Settlement.objects.filter(
            cashier=cashier, created_at__gte=start, created_at__lt=start + dt.timedelta(days=1)
        ).order_by("created_at", "id")
    )
    per_mode: dict[str, dict[str, int]] = {}
    for m in movements:
        mode = m.get_mode_display() or "Solde nul"
        row = per_mode.setdefault(mode, {"collected": 0, "refunded": 0, "advances": 0})
        if m.kind == SettlementKind.COLLECTION:
            row["collected"] += m.amount
        elif m.kind == SettlementKind.REFUND:
            row["refunded"] += m.amount
        elif m.kind == SettlementKind.ADVANCE:
            row["advances"] += m.amount
    return {
        "movements": movements,
        "per_mode": per_mode,
        "collected": sum(r["collected"] for r in per_mode.values()),
        "refunded": sum(r["refunded"] for r in per_mode.values()),
        "advances": sum(r["advances"] for r in per_mode.values()),
    }


def cash_totals_digest(totals: dict) -> str:
    """The digest of the day's totals as the arrêté's page shows them: every movement and sum."""
    return digest_of(
        [
            [m.pk for m in totals["movements"]],
            sorted(totals["per_mode"].items()),
            totals["collected"],
            totals["refunded"],
            totals["advances"],
        ]
    )


@transaction.atomic
def cash_closing_close(*, actor: User, day: dt.date, shown: str) -> CashClosing:
    """The cashier's arrêté de caisse for the day, signed by the cashier: the totals per mode
    are frozen, and nothing more is recorded at that desk that day. The cashier certifies the
    totals shown (`shown`, their digest): a movement recorded since (another window) refuses the
    closing, which is shown again with it."""
    check_role(actor, Role.CASHIER)
    if day > timezone.localdate():
        raise StepRefused(CLOSING_IN_FUTURE)
    # One closing per cashier and day: the cashier's own row serialises two clicks.
    User.objects.select_for_update().get(pk=actor.pk)
    if CashClosing.objects.filter(cashier=actor, day=day).exists():
        raise StepRefused(CASH_CLOSED.format(day=f"{day:%d/%m/%Y}"))
    totals = cash_day_totals(actor, day)
    if cash_totals_digest(totals) != shown:
        raise DraftChanged(CLOSING_CHANGED)
    closing = CashClosing.objects.create(
        agency=actor.agency,
        cashier=actor,
        day=day,
        number=NumberSequence.next("AC", actor.agency, day.year),
        totals=totals["per_mode"],
        collected=totals["collected"],
        refunded=totals["refunded"],
        advances=totals["advances"],
        count=len(totals["movements"]),
    )
    document_enqueue(DocumentKind.CASH_CLOSING, closing)
    return closing


@transaction.atomic
def cash_closing_countersign(closing: CashClosing, *, actor: User) -> CashClosing:
    """The supervisor countersigns a cashier's arrêté de caisse."""
    check_role(actor, Role.SUPERVISOR)
    closing = CashClosing.objects.select_for_update().get(pk=closing.pk)
    check_agency(actor, closing.agency_id)
    if closing.cashier_id == actor.pk:
        raise StepRefused(OWN_CLOSING)
    if closing.countersigned_at is not None:
        raise StepRefused(ALREADY_COUNTERSIGNED)
    closing.countersigned_by = actor
    closing.countersigned_at = timezone.now()
    closing.save(update_fields=["countersigned_by", "countersigned_at"])
    return closing


@transaction.atomic
def document_print_record(document: Document, *, actor: User) -> DocumentPrint:
    """A print of an issued document: the first is the original, each later one a duplicate
    numbered in order (DUPLICATA n° 1, 2...), under the document's lock."""
    document = (
        Document.objects.select_for_update(of=("self",))
        .select_related("request", "settlement", "cash_closing")
        .get(pk=document.pk)
    )
    # Only the agency's staff print: an auditor or the admin reads a consultation copy, which
    # records nothing (read-only means read-only).
    check_role(actor, *OPERATIONAL_ROLES)
    check_agency(actor, document_agency_id(document))
    copy = document.prints.count()
    return DocumentPrint.objects.create(document=document, copy=copy, printed_by=actor)


def _document_source_id(document: Document) -> int:
    if document.kind == DocumentKind.SUCCESSOR_CONTRACT:
        return document.request_id
    return (
        document.order_id
        or document.invoice_id
        or document.settlement_id
        or document.attestation_id
        or document.credit_note_id
        or document.cash_closing_id
    )


def document_regenerate(document: Document, *, actor: User) -> Document:
    """Render again a document whose rendering failed, for its agency's staff of the roles that
    issue it. A document already stored is never rendered again."""
    check_role(actor, *DOCUMENT_ISSUERS[document.kind])
    check_agency(actor, document_agency_id(document))
    if document.status == DocumentStatus.READY:
        return document
    return document_issue(document.kind, _document_source_id(document))


def document_produce_now(document: Document) -> Document:
    """A document still "en cours de production" that someone opens: rendered now rather than
    after the worker's queue (the worker's job then finds it stored). Called once the viewer's
    right to see it has been checked; a document that failed stays to regenerate."""
    if document.status != DocumentStatus.PENDING:
        return document
    return document_issue(document.kind, _document_source_id(document))


def attestation_issue(
    request: TerminationRequest, *, closed_on: dt.date, final_index: int
) -> Attestation:
    """The attestation de résiliation, numbered at closure (in the closing step's transaction)
    and rendered once it commits. Its verification token is unguessable: the public page it
    leads to cannot be found by trying numbers."""
    today = timezone.localdate()
    attestation = Attestation.objects.create(
        request=request,
        contract=request.contract,
        number=NumberSequence.next("ATT", request.agency, today.year),
        token=secrets.token_urlsafe(24),
        issued_on=today,
        closed_on=closed_on,
        final_index=final_index,
    )
    document_enqueue(DocumentKind.ATTESTATION, attestation)
    return attestation


# --- The public verification of an attestation -----------------------------------------------


def attestation_copy_of(attestation: Attestation, sha256: str) -> int | None:
    """Which copy SBEE issued a file is: 0 for the original, k for the "DUPLICATA n° k" printed
    at the agency (each rebuilt from the original as it was printed, the same bytes), None for
    a file that is none of them."""
    document = getattr(attestation, "document", None)
    if document is None or document.status != DocumentStatus.READY:
        return None
    if sha256 == document.sha256:
        return 0
    original = bytes(document.content)
    for copy in document.prints.filter(copy__gt=0).values_list("copy", flat=True):
        duplicate = stamp_pdf(original, **copy_marks(document, copy))
        if hashlib.sha256(duplicate).hexdigest() == sha256:
            return copy
    return None


def attestation_checks_recent(address: str | None) -> int:
    """Files presented from that address in the last ten minutes (the page's throttle)."""
    since = timezone.now() - dt.timedelta(minutes=10)
    return AttestationCheck.objects.filter(ip_address=address, at__gte=since).count()


@transaction.atomic
def attestation_check_record(
    attestation: Attestation, *, sha256: str, address: str | None
) -> AttestationCheck:
    """A file presented on the public page, and what it was found to be."""
    return AttestationCheck.objects.create(
        attestation=attestation,
        sha256=sha256,
        ip_address=address,
        copy=attestation_copy_of(attestation, sha256),
    )
