from django import forms
from django.contrib.auth.forms import AuthenticationForm


class ContractSearchForm(forms.Form):
    q = forms.CharField(
        label="Rechercher un contrat",
        max_length=100,
        required=False,
        help_text="Numéro de contrat, numéro de compteur, nom du client ou téléphone.",
        widget=forms.TextInput(attrs={"type": "search", "autofocus": True, "autocomplete": "off"}),
    )


class LoginForm(AuthenticationForm):
    """Django's login form, whose user name length is checked before any authentication (the
    throttling records the name tried: a name longer than any account is refused first)."""

    def clean_username(self):
        username = self.cleaned_data["username"]
        if len(username) > self.fields["username"].max_length:
            raise forms.ValidationError(
                "Identifiant trop long (%(max)d caractères au plus).",
                params={"max": self.fields["username"].max_length},
            )
        return username
