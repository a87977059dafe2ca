"""The supervision pages' filters: GET forms, so that every list is a bookmarkable address."""

from django import forms

from billing.enums import PaymentMode, SettlementKind
from contracts.enums import RequestState, Role
from contracts.forms import DateField
from contracts.models import Agency, Direction, User
from procedure.selectors import STEP_TITLES

OPEN = "ouvertes"
LATE_CHOICES = [("", "Toutes"), ("oui", "En retard"), ("non", "Dans les délais")]
# Days in the current state (calendar days, as the work queues count them).
AGE_BUCKETS = {"0-2": (0, 2), "3-7": (3, 7), "8-30": (8, 30), "31+": (31, None)}
AGE_LABELS = {
    "0-2": "0 à 2 jours",
    "3-7": "3 à 7 jours",
    "8-30": "8 à 30 jours",
    "31+": "plus de 30 jours",
}
BALANCE_CHOICES = [
    ("", "Tous"),
    ("a_encaisser", "Solde à encaisser"),
    ("a_rembourser", "Remboursement en attente"),
    ("recouvrement", "Transféré au recouvrement"),
]
# Which date the period applies to: the request's own dates, or the day a step was done.
DATE_OF = [
    ("depot", "Dépôt de la demande"),
    ("etat", "Entrée dans l'état actuel"),
    ("cloture", "Clôture"),
    *[(str(n), f"Étape {n} : {title}") for n, title in STEP_TITLES.items() if n > 1],
]
SORTS = {
    "-numero": ("-pk",),
    "numero": ("pk",),
    "-depot": ("-created_at", "-pk"),
    "depot": ("created_at", "pk"),
    "etat_depuis": ("state_since", "pk"),
    "-etat_depuis": ("-state_since", "-pk"),
    "echeance": ("deadline", "pk"),
    "-montant": ("-balance", "pk"),
    "montant": ("balance", "pk"),
    "agence": ("agency__name", "-pk"),
    "client": ("contract__customer__name", "pk"),
}
SORT_LABELS = {
    "-numero": "Numéro (récentes d'abord)",
    "numero": "Numéro (anciennes d'abord)",
    "-depot": "Date de dépôt (récentes d'abord)",
    "depot": "Date de dépôt (anciennes d'abord)",
    "etat_depuis": "Dans l'état depuis (les plus anciennes d'abord)",
    "-etat_depuis": "Dans l'état depuis (les plus récentes d'abord)",
    "echeance": "Échéance du délai (la plus proche d'abord)",
    "-montant": "Solde (le plus élevé d'abord)",
    "montant": "Solde (le plus bas d'abord)",
    "agence": "Agence",
    "client": "Client",
}
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]


class ScopeForm(forms.Form):
    """A Direction régionale or an agency (auditors); others read their own agency."""

    dr = forms.ModelChoiceField(
        Direction.objects.all(),
        to_field_name="code",
        required=False,
        label="Direction régionale",
        empty_label="Toutes",
    )
    agence = forms.ModelChoiceField(
        Agency.objects.select_related("direction"),
        to_field_name="code",
        required=False,
        label="Agence",
        empty_label="Toutes",
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if not user.sees_all_agencies:
            del self.fields["dr"]
            del self.fields["agence"]

    def clean(self):
        data = super().clean()
        agency, direction = data.get("agence"), data.get("dr")
        if agency and direction and agency.direction_id != direction.pk:
            self.add_error("agence", f"L'agence {agency.name} n'est pas de la {direction.name}.")
        return data


class PeriodMixin(forms.Form):
    du = DateField(required=False, label="Du", widget=DATE_INPUT, input_formats=DATE_FORMATS)
    au = DateField(required=False, label="Au", widget=DATE_INPUT, input_formats=DATE_FORMATS)

    def clean(self):
        data = super().clean()
        if data.get("du") and data.get("au") and data["du"] > data["au"]:
            self.add_error("au", "La fin de la période précède son début.")
        return data


class RequestSearchForm(PeriodMixin, ScopeForm):
    numero = forms.IntegerField(required=False, min_value=1, label="N° de demande")
    contrat = forms.CharField(required=False, max_length=20, label="N° de contrat")
    nom = forms.CharField(required=False, max_length=100, label="Nom du client")
    piece = forms.CharField(required=False, max_length=40, label="N° de pièce du demandeur")
    etat = forms.ChoiceField(
        required=False,
        label="État",
        choices=[("", "Tous"), (OPEN, "Toutes les demandes en cours"), *RequestState.choices],
    )
    etape = forms.TypedChoiceField(
        required=False,
        label="Étape en cours",
        coerce=int,
        empty_value=None,
        choices=[("", "Toutes"), *[(n, f"{n}. {t}") for n, t in STEP_TITLES.items()]],
    )
    retard = forms.ChoiceField(required=False, label="Délai", choices=LATE_CHOICES)
    anciennete = forms.ChoiceField(
        required=False,
        label="Dans l'état depuis",
        choices=[("", "Toute durée"), *AGE_LABELS.items()],
    )
    solde = forms.ChoiceField(required=False, label="Argent", choices=BALANCE_CHOICES)
    date_de = forms.ChoiceField(required=False, label="La période porte sur", choices=DATE_OF)
    montant_min = forms.IntegerField(
        required=False, label="Solde minimum (FCFA)", help_text="Négatif : un remboursement."
    )
    montant_max = forms.IntegerField(required=False, label="Solde maximum (FCFA)")
    tri = forms.ChoiceField(required=False, label="Trier par", choices=list(SORT_LABELS.items()))

    def clean_contrat(self):
        return self.cleaned_data["contrat"].replace(" ", "").upper()

    def clean_piece(self):
        return self.cleaned_data["piece"].strip().upper()

    def clean_nom(self):
        return " ".join(self.cleaned_data["nom"].split())

    def clean(self):
        data = super().clean()
        low, high = data.get("montant_min"), data.get("montant_max")
        if low is not None and high is not None and low > high:
            self.add_error("montant_max", "Le maximum est inférieur au minimum.")
        if (data.get("du") or data.get("au")) and not data.get("date_de"):
            data["date_de"] = "depot"
        return data


class CashJournalForm(PeriodMixin, ScopeForm):
    caissier = forms.ModelChoiceField(
        User.objects.none(),
        to_field_name="username",
        required=False,
        label="Caissier",
        empty_label="Tous",
    )
    nature = forms.ChoiceField(
        required=False, label="Nature", choices=[("", "Toutes"), *SettlementKind.choices]
    )
    mode = forms.ChoiceField(
        required=False, label="Mode", choices=[("", "Tous"), *PaymentMode.choices]
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        cashiers = User.objects.filter(groups__name=Role.CASHIER).order_by("last_name", "username")
        if not user.sees_all_agencies:
            cashiers = cashiers.filter(agency_id=user.agency_id)
        self.fields["caissier"].queryset = cashiers
        self.fields["caissier"].label_from_instance = lambda u: (
            f"{u.display_name} ({u.agency.name})"
        )


class ExceptionsForm(PeriodMixin, ScopeForm):
    pass
