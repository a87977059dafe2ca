from django import forms

from billing.enums import PaymentMode
from contracts.enums import IdDocumentType


class SettlementForm(forms.Form):
    """Step 7 at the cash desk: the whole balance, collected or refunded."""

    amount = forms.IntegerField(
        label="Montant (FCFA)",
        min_value=0,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
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
    confirm = forms.BooleanField(
        label="Je confirme le règlement, qui ne pourra pas être annulé.",
        error_messages={"required": "Cochez la case pour confirmer."},
    )

    def __init__(self, *args, refund: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.refund = refund
        if refund:
            self.fields["beneficiary_id_document_type"].required = True
            self.fields["beneficiary_id_document_number"].required = True


class AdvanceForm(forms.Form):
    """An avance en compte, at any time while the contract is active."""

    amount = forms.IntegerField(
        label="Montant de l'avance (FCFA)",
        min_value=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    mode = SettlementForm.base_fields["mode"]
    reference = SettlementForm.base_fields["reference"]
    confirm = SettlementForm.base_fields["confirm"]
