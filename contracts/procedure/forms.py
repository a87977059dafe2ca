"""The step forms of the procedure: what each page asks, with French labels and messages."""

from django import forms
from django.utils import timezone

from contracts.enums import (
    IdDocumentType,
    RequesterQuality,
    Role,
    TerminationKind,
    Timing,
)
from contracts.models import User
from interventions.enums import SAFETY_STEPS, Remark

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
INDEX_WIDGET = forms.NumberInput(attrs={"inputmode": "numeric", "min": 0})


class ConfirmForm(forms.Form):
    """Every irreversible action asks for an explicit confirmation."""

    confirm = forms.BooleanField(
        label="Je confirme cette action, qui ne pourra pas être annulée.",
        error_messages={"required": "Cochez la case pour confirmer."},
    )


class TerminationRequestForm(forms.Form):
    """Step 1: who asks, and whether a successor takes over."""

    kind = forms.ChoiceField(
        label="Type de résiliation",
        choices=TerminationKind.choices,
        widget=forms.RadioSelect,
        initial=TerminationKind.WITHOUT_TAKEOVER,
    )
    requester_quality = forms.ChoiceField(
        label="Le demandeur est",
        choices=RequesterQuality.choices,
        widget=forms.RadioSelect,
        initial=RequesterQuality.HOLDER,
    )
    requester_name = forms.CharField(label="Nom et prénoms du demandeur", max_length=150)
    requester_id_document_type = forms.ChoiceField(
        label="Pièce d'identité présentée", choices=IdDocumentType.choices
    )
    requester_id_document_number = forms.CharField(label="Numéro de la pièce", max_length=40)
    requester_phone = forms.CharField(
        label="Téléphone du demandeur",
        max_length=20,
        help_text="Ex. 01 97 12 34 56",
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    proxy_reference = forms.CharField(
        label="Référence de la procuration",
        max_length=80,
        required=False,
        help_text="Obligatoire pour un mandataire.",
    )


class TakeOverForm(forms.Form):
    """Step 2: the successor and the mutation index."""

    successor_id_document_type = forms.ChoiceField(
        label="Pièce d'identité du successeur", choices=IdDocumentType.choices
    )
    successor_id_document_number = forms.CharField(
        label="Numéro de la pièce du successeur",
        max_length=40,
        help_text="Un client déjà connu sous cette pièce est repris tel quel.",
    )
    successor_name = forms.CharField(
        label="Nom et prénoms (ou raison sociale) du successeur", max_length=150
    )
    successor_phone = forms.CharField(label="Téléphone du successeur", max_length=20)
    successor_address = forms.CharField(label="Adresse du successeur", max_length=255)
    mutation_index = forms.IntegerField(
        label="Index de mutation (kWh)", min_value=0, widget=INDEX_WIDGET
    )
    mutation_date = forms.DateField(label="Date du relevé", widget=DATE_WIDGET)
    rollover_confirmed = forms.BooleanField(
        label="Le compteur est passé par zéro (index inférieur au dernier facturé)", required=False
    )
    high_consumption_confirmed = forms.BooleanField(
        label="Je confirme une consommation inhabituellement forte", required=False
    )
    confirm = ConfirmForm.base_fields["confirm"]


class IssueOrderForm(forms.Form):
    """Step 3: classic or anticipated, the order, the requester's signature."""

    timing = forms.ChoiceField(
        label="Résiliation",
        choices=Timing.choices,
        widget=forms.RadioSelect,
        initial=Timing.CLASSIC,
    )
    cut_date = forms.DateField(
        label="Date de coupure (résiliation anticipée)",
        required=False,
        widget=DATE_WIDGET,
        help_text="Une date ultérieure à aujourd'hui.",
    )
    assignee = forms.ModelChoiceField(
        label="Agent de relève désigné",
        queryset=User.objects.none(),
        required=False,
        empty_label="— à désigner plus tard —",
    )
    requester_signed = forms.BooleanField(
        label="Le demandeur a signé l'ordre d'intervention imprimé",
        error_messages={"required": "Le demandeur doit signer l'ordre (procédure, étape 3)."},
    )

    def __init__(self, *args, agency=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = User.objects.filter(
            agency=agency, groups__name=Role.READER, is_active=True
        ).order_by("last_name")

    def clean(self):
        data = super().clean()
        if data.get("timing") == Timing.ANTICIPATED:
            cut_date = data.get("cut_date")
            if cut_date is None:
                self.add_error("cut_date", "Indiquez la date de coupure.")
            elif cut_date < timezone.localdate():
                self.add_error("cut_date", "La date de coupure ne peut pas être dans le passé.")
        return data


class FieldReportForm(forms.Form):
    """Steps 4-5: the compte-rendu d'intervention, as written on the paper order."""

    index_read = forms.IntegerField(label="Index relevé (kWh)", min_value=0, widget=INDEX_WIDGET)
    read_on = forms.DateField(label="Date du relevé", widget=DATE_WIDGET)
    cut_done = forms.BooleanField(label="Coupure effectuée", required=False)
    cut_index = forms.IntegerField(
        label="Index de coupure (kWh)", min_value=0, required=False, widget=INDEX_WIDGET
    )
    remarks = forms.MultipleChoiceField(
        label="Remarques sur le point de livraison",
        choices=Remark.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    remarks_other = forms.CharField(label="Autre remarque", max_length=255, required=False)
    rollover_confirmed = TakeOverForm.base_fields["rollover_confirmed"]
    high_consumption_confirmed = TakeOverForm.base_fields["high_consumption_confirmed"]
    confirm = ConfirmForm.base_fields["confirm"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["read_on"].initial = timezone.localdate


class RemovalReportForm(forms.Form):
    """Step 9: the removal (or final interruption) report."""

    index_read = forms.IntegerField(
        label="Index à la dépose (kWh)", min_value=0, widget=INDEX_WIDGET
    )
    read_on = forms.DateField(label="Date de l'intervention", widget=DATE_WIDGET)
    cut_done = forms.BooleanField(label="Coupure effectuée", required=False)
    safety_steps_confirmed = forms.TypedMultipleChoiceField(
        label="Mode opératoire de dépose : chaque étape faite",
        choices=[(n, f"{n}. {text}") for n, text in enumerate(SAFETY_STEPS, start=1)],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    remarks = FieldReportForm.base_fields["remarks"]
    remarks_other = FieldReportForm.base_fields["remarks_other"]
    rollover_confirmed = TakeOverForm.base_fields["rollover_confirmed"]
    confirm = ConfirmForm.base_fields["confirm"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["read_on"].initial = timezone.localdate


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Motif de l'annulation",
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    confirm = ConfirmForm.base_fields["confirm"]
