from django import forms


class ContractSearchForm(forms.Form):
    q = forms.CharField(
        label="Rechercher un contrat",
        max_length=100,
        required=False,
        help_text="Numéro de contrat, numéro de compteur, nom du client ou téléphone.",
        widget=forms.TextInput(attrs={"type": "search", "autofocus": True, "autocomplete": "off"}),
    )
