"""Writes on invoices, the account ledger, the cash desk and the printed documents. Each
function locks what it changes and checks the actor's role and agency; the procedure
(contracts/procedure/services.py) calls them inside its step's transaction, then moves the
request. The cash desk's advances and the prints are atomic on their own."""

import datetime as dt
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.computation import (
    Computation,
    ComputationError,
    balance,
    compute_consumption_invoice,
    compute_subscription_invoice,
    consumption_kwh,
    period_days,
    round_half_up,
)
from billing.documents import issue_after_commit
from billing.enums import (
    DocumentKind,
    EntryKind,
    InvoiceKind,
    InvoiceState,
    PaymentMode,
    SettlementKind,
)
from billing.models import (
    AccountEntry,
    Attestation,
    Document,
    DocumentPrint,
    Invoice,
    InvoiceLine,
    Settlement,
)
from billing.selectors import (
    advances_in_account,
    tariff_items_in_force,
    unpaid_invoices,
    usual_consumption,
)
from contracts.enums import ContractStatus, DepositStatus, IdDocumentType, Role
from contracts.models import Contract, Deposit, NumberSequence, TerminationRequest, User
from contracts.rules import StepRefused, check_agency, check_role
from contracts.templatetags.sbee import format_fcfa

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
    "({payer}, {expected}). Le remboursement n'est fait qu'à la personne qui a versé le dépôt."
)
ADVANCE_POSITIVE = "Le montant de l'avance doit être positif."
ADVANCE_CONTRACT_CLOSED = "Ce contrat est résilié : aucune avance ne peut y être versée."
DRAFT_ONLY = "Seul un brouillon peut être recalculé ou validé."
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
        i = self.invoice
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
            [(line.code, line.quantity, line.unit_price, line.amount) for line in self.lines],
        ]


def compute_balance(
    contract: Contract, *, final_index: int, final_date: dt.date, rollover: bool
) -> tuple[Computation, int, int, int]:
    """The consumption part of the balance invoice and what the account holds besides:
    (computation, unpaid invoices, advances, deposit held)."""
    items = tariff_items_in_force(contract.tariff_category, final_date)
    try:
        computation = compute_consumption_invoice(
            items=items,
            power_kva=contract.subscribed_power_kva,
            zone=contract.agency.zone,
            last_index=contract.last_billed_index,
            last_date=contract.last_billed_date,
            final_index=final_index,
            final_date=final_date,
            digits=contract.meter.digits,
            rollover=rollover,
        )
    except ComputationError as error:
        raise StepRefused(str(error)) from None
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
    invoice, _ = Invoice.objects.select_for_update().get_or_create(
        request=request, kind=InvoiceKind.BALANCE, defaults={"contract": contract}
    )
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
    request: TerminationRequest, *, start_date: dt.date
) -> InvoicePreview:
    """The successor's subscription invoice for the same category and power, unsaved (its
    contract does not exist yet)."""
    contract = request.contract
    items = tariff_items_in_force(contract.tariff_category, start_date)
    computation = compute_subscription_invoice(items=items, power_kva=contract.subscribed_power_kva)
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
        Invoice.objects.select_for_update().select_related("contract__agency").get(pk=invoice.pk)
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
    issue_after_commit(DocumentKind.INVOICE, invoice.pk)
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


def complementary_invoice_create(
    request: TerminationRequest, *, removal_index: int, removal_date: dt.date, actor: User
) -> Invoice | None:
    """Anticipated termination: the index at removal is higher than the one billed; the
    difference goes to the account (downstream: apurement de compte client)."""
    billed = request.invoices.get(kind=InvoiceKind.BALANCE)
    if removal_index <= billed.new_index:
        return None
    contract = request.contract
    items = tariff_items_in_force(contract.tariff_category, removal_date)
    computation = compute_consumption_invoice(
        items=items,
        power_kva=contract.subscribed_power_kva,
        zone=contract.agency.zone,
        last_index=billed.new_index,
        last_date=billed.period_end,
        final_index=removal_index,
        final_date=max(removal_date, billed.period_end),
        digits=contract.meter.digits,
    )
    # The fixed charges ran to the cut date and were billed then: only the energy remains.
    energy = [line for line in computation.lines if line.unit == "kWh"]
    vat_base = sum(line.amount for line in energy if line.vat_applies)
    vat = round_half_up(vat_base * computation.vat_rate, 100)
    computation = Computation(
        days=computation.days,
        consumption=computation.consumption,
        lines=energy,
        vat_rate=computation.vat_rate,
        vat_base=vat_base,
        vat_amount=vat,
        total=sum(line.amount for line in energy) + vat,
    )
    invoice = Invoice.objects.create(
        contract=contract,
        request=request,
        kind=InvoiceKind.COMPLEMENTARY,
        period_start=billed.period_end,
        period_end=removal_date,
        old_index=billed.new_index,
        new_index=removal_index,
        consumption=computation.consumption,
        days=computation.days,
        vat_rate=computation.vat_rate,
        vat_base=computation.vat_base,
        vat_amount=computation.vat_amount,
        total=computation.total,
        balance=computation.total,
    )
    _write_lines(invoice, computation)
    return invoice_validate(invoice, actor=actor)


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
) -> Settlement:
    """Step 7: collect the balance, or refund it to the deposit's payer; exactly once. The
    procedure calls it with the request locked; a complementary invoice is settled alone."""
    check_role(actor, Role.CASHIER)
    invoice = (
        Invoice.objects.select_for_update().select_related("contract__agency").get(pk=invoice.pk)
    )
    check_agency(actor, invoice.contract.agency_id)
    existing = Settlement.objects.filter(invoice=invoice).first()
    if existing is not None:
        raise StepRefused(ALREADY_SETTLED.format(number=existing.number))
    if invoice.state != InvoiceState.VALIDATED:
        raise StepRefused(NOT_TO_SETTLE.format(state=invoice.get_state_display()))
    due = abs(invoice.balance)
    if amount != due:
        raise StepRefused(PARTIAL_REFUSED.format(expected=format_fcfa(due)), field="amount")
    contract = invoice.contract
    today = timezone.localdate()
    if invoice.balance > 0:
        kind = SettlementKind.COLLECTION
    elif invoice.balance < 0:
        kind = SettlementKind.REFUND
        deposit = Deposit.objects.filter(contract=contract).first()
        if deposit is None:
            raise StepRefused(REFUND_NO_DEPOSIT)
        presented = (beneficiary_id_document_type, beneficiary_id_document_number.strip().upper())
        expected = (
            deposit.payer_id_document_type,
            deposit.payer_id_document_number.strip().upper(),
        )
        if presented != expected:
            presented_label = dict(IdDocumentType.choices).get(beneficiary_id_document_type, "?")
            expected_label = deposit.get_payer_id_document_type_display()
            raise StepRefused(
                REFUND_IDENTITY_MISMATCH.format(
                    presented=f"{presented_label} n° {beneficiary_id_document_number}",
                    payer=deposit.payer_name,
                    expected=f"{expected_label} n° {deposit.payer_id_document_number}",
                ),
                field="beneficiary_id_document_number",
            )
        beneficiary_name = deposit.payer_name
    else:
        kind, mode, reference = SettlementKind.ZERO, "", ""
    if kind != SettlementKind.ZERO:
        _check_reference(mode, reference)
    try:
        with transaction.atomic():
            settlement = Settlement.objects.create(
                invoice=invoice,
                agency=contract.agency,
                kind=kind,
                number=NumberSequence.next("REC", contract.agency, today.year),
                amount=due,
                mode=mode,
                reference=reference.strip(),
                beneficiary_name=beneficiary_name,
                beneficiary_id_document_type=beneficiary_id_document_type
                if kind == SettlementKind.REFUND
                else "",
                beneficiary_id_document_number=beneficiary_id_document_number.strip()
                if kind == SettlementKind.REFUND
                else "",
                cashier=actor,
            )
    except IntegrityError:
        raise StepRefused(ALREADY_SETTLED.format(number="déjà émis")) from None
    issue_after_commit(DocumentKind.RECEIPT, settlement.pk)
    if kind == SettlementKind.COLLECTION:
        AccountEntry.objects.create(
            contract=contract,
            kind=EntryKind.PAYMENT,
            posted_on=today,
            invoice=invoice,
            label=f"Encaissement {settlement.number} ({settlement.get_mode_display().lower()})",
            credit=due,
            created_by=actor,
        )
    elif kind == SettlementKind.REFUND:
        AccountEntry.objects.create(
            contract=contract,
            kind=EntryKind.REFUND,
            posted_on=today,
            invoice=invoice,
            label=f"Remboursement {settlement.number} à {beneficiary_name}",
            debit=due,
            created_by=actor,
        )
        Deposit.objects.filter(contract=contract).update(status=DepositStatus.REFUNDED)
    Invoice.objects.filter(pk=invoice.pk).update(state=InvoiceState.SETTLED)
    if invoice.kind == InvoiceKind.BALANCE:
        # The balance took over the unpaid consumption invoices: they are settled with it.
        unpaid_invoices(contract).update(state=InvoiceState.SETTLED)
    if invoice.kind == InvoiceKind.SUBSCRIPTION:
        _record_successor_deposit(invoice, today)
    return settlement


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


@transaction.atomic
def account_advance_record(
    contract: Contract, *, actor: User, amount: int, mode: str, reference: str = ""
) -> AccountEntry:
    """An avance en compte, paid at the cash desk at any time while the contract is active."""
    check_role(actor, Role.CASHIER)
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    check_agency(actor, contract.agency_id)
    if contract.status != ContractStatus.ACTIVE:
        raise StepRefused(ADVANCE_CONTRACT_CLOSED)
    if amount <= 0:
        raise StepRefused(ADVANCE_POSITIVE, field="amount")
    _check_reference(mode, reference)
    label = f"Avance en compte ({PaymentMode(mode).label.lower()}"
    label += f", réf. {reference.strip()})" if reference.strip() else ")"
    return AccountEntry.objects.create(
        contract=contract,
        kind=EntryKind.ADVANCE,
        posted_on=timezone.localdate(),
        label=label,
        credit=amount,
        created_by=actor,
    )


@transaction.atomic
def document_print_record(document: Document, *, actor: User) -> DocumentPrint:
    """A print of an issued document: the first is the original, each later one a duplicate
    numbered in order (DUPLICATA n° 1, 2...), under the document's lock."""
    document = (
        Document.objects.select_for_update(of=("self",))
        .select_related("request")
        .get(pk=document.pk)
    )
    if not actor.sees_all_agencies:
        check_agency(actor, document.request.agency_id)
    copy = document.prints.count()
    return DocumentPrint.objects.create(document=document, copy=copy, printed_by=actor)


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
    issue_after_commit(DocumentKind.ATTESTATION, attestation.pk)
    return attestation
