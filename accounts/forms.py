"""The login form."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm


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
