"""The step forms of the procedure: what each page asks, with French labels and messages."""

import base64
import binascii

from django import forms
from django.utils import timezone
from django.utils.html import format_html

from billing.forms import DigitsField
from billing.models import TariffCategory
from contracts.enums import (
    IdDocumentType,
    RequesterQuality,
    Role,
    TerminationKind,
    Timing,
)
from contracts.forms import DateField
from contracts.models import User
from interventions.enums import SAFETY_STEPS, Remark, VisitFailure
from interventions.services import DRAWING_INVALID
from notifications.enums import Language

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
INDEX_WIDGET = forms.NumberInput(attrs={"inputmode": "numeric"})
# A meter has at most 9 digits (contracts.Meter): an index is below a thousand million.
INDEX_MAX = 999_999_999
INDEX_ERRORS = {
    "min_value": "Un index est un nombre positif ou nul.",
    "max_value": "Un index a au plus 9 chiffres (999 999 999 au plus).",
    "invalid": "Saisissez l'index en chiffres, sans espace.",
}


class StaffChoiceField(forms.ModelChoiceField):
    """Agents are shown by their full name, never by their user name."""

    def label_from_instance(self, obj: User) -> str:
        return obj.display_name


def agents(agency, *roles: str):
    return (
        User.objects.filter(agency=agency, groups__name__in=roles, is_active=True)
        .distinct()
        .order_by("last_name", "first_name", "id")
    )


REPORT_CONFIRM = (
    "Je confirme ce compte-rendu. Fait par moi, je le signe comme le mien ; saisi pour un autre "
    "agent, il attend sa signature."
)


class ReportAuthorMixin:
    """Who did the work: the agent entering the report (it is then their signature), or the
    agent whose signed paper order is being entered (they sign it as theirs afterwards)."""

    def _author_field(self, agency, roles, user):
        if agency is None or user is None:  # the field app: the phone's owner reports
            del self.fields["agent"]
            return
        self.fields["agent"].queryset = agents(agency, *roles).exclude(pk=user.pk)


def agent_field() -> forms.ModelChoiceField:
    return StaffChoiceField(
        label="Intervention faite par",
        queryset=User.objects.none(),
        required=False,
        empty_label="Moi-même",
        help_text="Saisie d'après l'ordre papier d'un autre agent : choisissez-le. Il signera "
        "le compte-rendu comme le sien avant le contrôle du responsable.",
    )


def report_confirm() -> forms.BooleanField:
    return forms.BooleanField(
        label=REPORT_CONFIRM, error_messages={"required": "Cochez la case pour confirmer."}
    )


def index_field(label: str, **kwargs) -> forms.IntegerField:
    return DigitsField(
        label=label,
        min_value=0,
        max_value=INDEX_MAX,
        widget=INDEX_WIDGET,
        error_messages=INDEX_ERRORS,
        **kwargs,
    )


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


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.code} – {obj.name}"


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
    # The successor's own contract, as in a contract creation (the outgoing one's by default).
    tariff_category = CategoryChoiceField(
        label="Catégorie tarifaire du contrat du successeur",
        queryset=TariffCategory.objects.none(),
        empty_label=None,
        required=False,  # not sent: the outgoing contract's
    )
    subscribed_power_kva = forms.IntegerField(
        label="Puissance souscrite par le successeur (kVA)",
        required=False,  # left empty: the outgoing contract's
        min_value=1,
        max_value=32767,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={
            "min_value": "La puissance souscrite est d'au moins 1 kVA.",
            "max_value": "Puissance hors de portée : vérifiez la saisie.",
            "invalid": "Saisissez la puissance en kVA, en chiffres.",
        },
    )
    mutation_index = index_field("Index de mutation (kWh)")
    mutation_date = DateField(label="Date du relevé", widget=DATE_WIDGET)
    rollover_confirmed = forms.BooleanField(
        label="Le compteur est passé par zéro (index inférieur au dernier facturé)", required=False
    )
    high_consumption_confirmed = forms.BooleanField(
        label="Je confirme une consommation inhabituellement forte", required=False
    )
    # What the agent saw: both invoices are validated only as shown (see the service).
    preview_digest = forms.CharField(widget=forms.HiddenInput, required=False)
    confirm = forms.BooleanField(
        label="Je valide les deux factures telles qu'affichées ; elles ne pourront plus être "
        "modifiées.",
        required=False,
    )

    def __init__(self, *args, contract=None, limit: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if contract is None:
            return
        point = contract.delivery_point
        category = self.fields["tariff_category"]
        category.queryset = TariffCategory.objects.filter(voltage=point.voltage)
        category.initial = contract.tariff_category_id
        category.help_text = (
            f"Celle du contrat en cours : {contract.tariff_category.code}. Seules les catégories "
            f"{point.get_voltage_display()} conviennent à ce point de livraison."
        )
        power = self.fields["subscribed_power_kva"]
        power.initial = contract.subscribed_power_kva
        power.help_text = (
            f"Celle du contrat en cours (si vide) : {contract.subscribed_power_kva} kVA ; au plus "
            f"{limit} kVA sur ce branchement. L'avance sur consommation est calculée sur elle."
        )


class IssueOrderForm(forms.Form):
    """Step 3: classic or anticipated, and the order; the requester signs it once printed."""

    timing = forms.ChoiceField(
        label="Résiliation",
        choices=Timing.choices,
        widget=forms.RadioSelect,
        initial=Timing.CLASSIC,
    )
    cut_date = DateField(
        label="Date de coupure (résiliation anticipée)",
        required=False,
        widget=DATE_WIDGET,
        help_text="Une date ultérieure à aujourd'hui.",
    )
    assignee = StaffChoiceField(
        label="Agent désigné (relève ou ARPNT)",
        queryset=User.objects.none(),
        required=False,
        empty_label="— à désigner plus tard —",
    )

    def __init__(self, *args, agency=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = agents(agency, Role.READER, Role.ARPNT)

    def clean(self):
        data = super().clean()
        if data.get("timing") == Timing.ANTICIPATED:
            cut_date = data.get("cut_date")
            if cut_date is None:
                self.add_error("cut_date", "Indiquez la date de coupure.")
            elif cut_date < timezone.localdate():
                self.add_error("cut_date", "La date de coupure ne peut pas être dans le passé.")
        return data


class FieldReportForm(ReportAuthorMixin, forms.Form):
    """Steps 4-5: the compte-rendu d'intervention, as written on the paper order."""

    index_read = index_field("Index relevé (kWh)")
    read_on = DateField(label="Date du relevé", widget=DATE_WIDGET)
    cut_done = forms.BooleanField(label="Coupure effectuée", required=False)
    cut_index = index_field(
        "Index de coupure (kWh)",
        required=False,
        help_text="Jamais inférieur à l'index relevé : c'est sur lui que la facture est calculée.",
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
    agent = agent_field()
    confirm = report_confirm()

    def __init__(
        self, *args, reading_only: bool = False, agency=None, roles=(), user=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.fields["read_on"].initial = timezone.localdate
        self._author_field(agency, roles, user)
        if reading_only:
            # An anticipated termination's order is a reading only: the cut comes at step 8;
            # the reading is entered by the agent who made it (no paper report to copy).
            del self.fields["cut_done"]
            del self.fields["cut_index"]
            self.fields.pop("agent", None)
            self.fields["confirm"].label = ConfirmForm.base_fields["confirm"].label

    def clean(self):
        data = super().clean()
        data.setdefault("cut_done", False)
        data.setdefault("cut_index", None)
        return data


class RemovalReportForm(ReportAuthorMixin, forms.Form):
    """Steps 8-9 (BT): the removal report, with the annex's 8 safety steps."""

    index_read = index_field("Index à la dépose (kWh)")
    read_on = DateField(label="Date de l'intervention", widget=DATE_WIDGET)
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
    agent = agent_field()
    confirm = report_confirm()

    def __init__(self, *args, agency=None, roles=(), user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["read_on"].initial = timezone.localdate
        self._author_field(agency, roles, user)


class FinalInterruptionReportForm(ReportAuthorMixin, forms.Form):
    """Steps 8-9 (MT): the final interruption report. The meter stays in place: no removal
    checklist, but the seal put on the cut."""

    index_read = index_field("Index à la coupure définitive (kWh)")
    read_on = DateField(label="Date de la coupure", widget=DATE_WIDGET)
    cut_done = forms.BooleanField(label="Coupure définitive effectuée", required=False)
    seal_number = forms.CharField(
        label="Numéro du scellé posé", max_length=40, required=False, strip=True
    )
    remarks = FieldReportForm.base_fields["remarks"]
    remarks_other = FieldReportForm.base_fields["remarks_other"]
    rollover_confirmed = TakeOverForm.base_fields["rollover_confirmed"]
    agent = agent_field()
    confirm = report_confirm()

    def __init__(self, *args, agency=None, roles=(), user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["read_on"].initial = timezone.localdate
        self._author_field(agency, roles, user)


class FailedVisitForm(forms.Form):
    """A visit that could not be done (visite infructueuse), from the report's page."""

    visited_on = DateField(label="Date de la visite", widget=DATE_WIDGET)
    reason = forms.ChoiceField(
        label="Motif", choices=VisitFailure.choices, widget=forms.RadioSelect
    )
    reason_detail = forms.CharField(
        label="Précision", max_length=255, required=False, help_text="Obligatoire pour « Autre »."
    )
    confirm = forms.BooleanField(
        label="Je confirme que la visite n'a pas pu être faite.",
        error_messages={"required": "Cochez la case pour confirmer."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="visite", **kwargs)
        self.fields["visited_on"].initial = timezone.localdate


class RescheduleForm(forms.Form):
    due_on = DateField(
        label="Nouvelle date d'exécution", widget=DATE_WIDGET, help_text="Aujourd'hui ou plus tard."
    )


class SendBackForm(forms.Form):
    """Instead of signing: the report goes back to its agent."""

    reason = forms.CharField(
        label="Motif du renvoi (ce qui est à corriger)",
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    confirm = forms.BooleanField(
        label="Je renvoie ce compte-rendu à l'agent pour correction.",
        error_messages={"required": "Cochez la case pour confirmer."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="renvoi", **kwargs)


class RemovalImpossibleForm(forms.Form):
    reason = forms.CharField(
        label="Motif (pourquoi l'intervention est impossible)",
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    confirm = forms.BooleanField(
        label="Je déclare l'intervention impossible : la fourniture est coupée au branchement.",
        error_messages={"required": "Cochez la case pour confirmer."},
    )


class ReassignForm(forms.Form):
    assignee = StaffChoiceField(label="Confier l'ordre à", queryset=User.objects.none())

    def __init__(self, *args, agency=None, roles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = agents(agency, *roles)


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Motif de l'annulation",
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    confirm = ConfirmForm.base_fields["confirm"]


class SignaturePad(forms.Widget):
    """A frame to sign in with a finger, a stylus or the mouse (signature_pad, served from our
    static files); the drawing travels as a PNG data URL in a hidden field (the form lists it
    with the hidden fields: no label points at it). Without JavaScript the frame is not shown,
    and the paper signature stays."""

    input_type = "hidden"

    class Media:
        js = ("vendor/signature_pad/signature_pad.umd.min.js", "js/signature.js")

    def render(self, name, value, attrs=None, renderer=None):
        field_id = (attrs or {}).get("id", f"id_{name}")
        return format_html(
            '<div class="signature-pad" data-signature-for="{}" hidden>'
            "<p>Signature du demandeur à l'écran (ou sur l'ordre imprimé) :</p>"
            '<canvas width="600" height="200" aria-label="Cadre de signature du demandeur">'
            "</canvas>"
            '<button type="button" class="secondary" data-signature-clear>Effacer</button>'
            "</div>"
            '<input type="hidden" name="{}" id="{}" value="">',
            field_id,
            name,
            field_id,
        )

    def value_from_datadict(self, data, files, name):
        return data.get(name, "")


class SignatureField(forms.Field):
    """The drawn signature: a PNG data URL → its bytes (None when nothing was drawn)."""

    widget = SignaturePad
    PREFIX = "data:image/png;base64,"
    MAX = 400_000  # characters of base64: about 300 KB of PNG

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Signature à l'écran (facultatif)")
        super().__init__(**kwargs)

    def to_python(self, value):
        if not value:
            return None
        if not value.startswith(self.PREFIX) or len(value) > self.MAX:
            raise forms.ValidationError(DRAWING_INVALID, code="invalid")
        try:
            return base64.b64decode(value[len(self.PREFIX) :], validate=True)
        except (ValueError, binascii.Error):
            raise forms.ValidationError(DRAWING_INVALID, code="invalid") from None


class SmsChoiceForm(forms.Form):
    language = forms.ChoiceField(
        label="Langue des SMS", choices=Language.choices, widget=forms.RadioSelect
    )
    opted_out = forms.BooleanField(
        label="Le demandeur ne souhaite pas recevoir de SMS", required=False
    )
