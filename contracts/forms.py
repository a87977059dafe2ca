import datetime as dt

from django import forms

DATE_MIN = dt.date(2000, 1, 1)
DATE_MAX = dt.date(2099, 12, 31)
DATE_OUT_OF_RANGE = "Date hors limites : entre le 01/01/2000 et le 31/12/2099."


class DateField(forms.DateField):
    """Every date typed in a form of the application: a day between 2000 and 2099, so that no
    far date (9999-12-31, 0001-01-01) reaches a computation that would overflow."""

    def to_python(self, value):
        day = super().to_python(value)
        if day is not None and not DATE_MIN <= day <= DATE_MAX:
            raise forms.ValidationError(DATE_OUT_OF_RANGE, code="out_of_range")
        return day


class ContractSearchForm(forms.Form):
    q = forms.CharField(
        label="Rechercher un contrat",
        max_length=100,
        required=False,
        help_text="Numéro de contrat, numéro de compteur, nom du client ou téléphone.",
        widget=forms.TextInput(attrs={"type": "search", "autofocus": True, "autocomplete": "off"}),
    )
