"""The cash desk's forms. Every money form carries an idempotency key (a form sent twice
records once) and states its bounds in French."""

import uuid

from django import forms

from billing.enums import BeneficiaryQuality, PaymentMode
from contracts.enums import IdDocumentType

MAX_AMOUNT = 999_999_999  # francs CFA: below what a PostgreSQL integer holds


class DigitsField(forms.IntegerField):
    """A whole number typed with the digits 0 to 9 only (Python would also read "١٢٣" or
    "１２３" as 123: on a cash form, what is read must be what the cashier sees)."""

    def to_python(self, value):
        if value not in self.empty_values and not str(value).strip().isascii():
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


def amount_field(label: str, *, minimum: int, help_text: str = "") -> forms.IntegerField:
    bounds = f"Un montant en francs CFA, entier, de {minimum} à 999 999 999."
    return DigitsField(
        label=label,
        min_value=minimum,
        max_value=MAX_AMOUNT,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text=help_text or bounds,
        error_messages={
            "invalid": "Saisissez un montant en chiffres, sans espace ni décimale.",
            "min_value": bounds,
            "max_value": bounds,
        },
    )


class MoneyForm(forms.Form):
    """A form that moves money: it carries a key drawn when the page is shown; the service
    records one operation per key, and a second send shows the first result."""

    idempotency_key = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={
            "required": "Ce formulaire a expiré : rechargez la page.",
            "invalid": "Ce formulaire a expiré : rechargez la page.",
        },
    )
    confirm = forms.BooleanField(
        label="Je confirme l'opération, qui ne pourra pas être annulée.",
        error_messages={"required": "Cochez la case pour confirmer."},
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("idempotency_key", uuid.uuid4())
        super().__init__(*args, **kwargs)


class SettlementForm(MoneyForm):
    """Step 7 at the cash desk: the whole balance, collected or refunded."""

    amount = amount_field(
        "Montant (FCFA)",
        minimum=0,
        help_text="Le solde entier : les paiements partiels ne sont pas acceptés.",
    )
    mode = forms.ChoiceField(label="Mode", choices=PaymentMode.choices, initial=PaymentMode.CASH)
    reference = forms.CharField(
        label="Référence (chèque, transaction, virement)", max_length=80, required=False
    )
    beneficiary_id_document_type = forms.ChoiceField(
        label="Pièce présentée par le bénéficiaire (remboursement)",
        choices=[("", "—"), *IdDocumentType.choices],
        required=False,
    )
    beneficiary_id_document_number = forms.CharField(
        label="Numéro de la pièce présentée", max_length=40, required=False
    )
    field_order = [
        "amount",
        "mode",
        "reference",
        "beneficiary_id_document_type",
        "beneficiary_id_document_number",
        "confirm",
    ]

    def __init__(self, *args, refund: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.refund = refund
        if refund:
            self.fields["beneficiary_id_document_type"].required = True
            self.fields["beneficiary_id_document_number"].required = True


class AdvanceForm(MoneyForm):
    """An avance en compte, while the contract is active and no balance invoice is validated."""

    amount = amount_field("Montant de l'avance (FCFA)", minimum=1)
    mode = SettlementForm.base_fields["mode"]
    reference = SettlementForm.base_fields["reference"]
    field_order = ["amount", "mode", "reference", "confirm"]


class RefundAuthorisationForm(forms.Form):
    """The supervisor names who may receive a refund other than the deposit's payer."""

    beneficiary_name = forms.CharField(label="Nom et prénoms du bénéficiaire", max_length=150)
    beneficiary_id_document_type = forms.ChoiceField(
        label="Pièce d'identité du bénéficiaire", choices=IdDocumentType.choices
    )
    beneficiary_id_document_number = forms.CharField(label="Numéro de la pièce", max_length=40)
    quality = forms.ChoiceField(
        label="Qualité", choices=BeneficiaryQuality.choices, widget=forms.RadioSelect
    )
    proof_reference = forms.CharField(
        label="Référence du justificatif",
        max_length=120,
        help_text="Acte de décès et de dévolution, procuration de l'entreprise, ancienne et "
        "nouvelle pièce…",
    )
    confirm = forms.BooleanField(
        label="J'autorise ce remboursement à ce bénéficiaire ; je ne le paierai pas moi-même.",
        error_messages={"required": "Cochez la case pour confirmer."},
    )


class CreditNoteForm(forms.Form):
    """The supervisor cancels a validated, unsettled invoice by a credit note."""

    reason = forms.CharField(
        label="Motif de l'annulation",
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    send_back_report = forms.BooleanField(
        label="Le compte-rendu d'intervention est lui-même à corriger : le renvoyer à l'agent",
        required=False,
    )
    confirm = forms.BooleanField(
        label="J'émets un avoir pour le montant entier de la facture ; il ne pourra pas être "
        "annulé.",
        error_messages={"required": "Cochez la case pour confirmer."},
    )


class TakeoverCreditNoteForm(CreditNoteForm):
    """The reprise's two invoices: no report to send back."""

    send_back_report = None


class ConfirmClosingForm(forms.Form):
    confirm = forms.BooleanField(
        label="Je certifie ces totaux, conformes à ma caisse.",
        error_messages={"required": "Cochez la case pour confirmer."},
    )
