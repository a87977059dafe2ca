"""What every write checks before it acts: who acts, and on which agency's records. Shared by
the procedure and by the billing and interventions records below it."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from contracts.models import User

ROLE_REFUSED = "Votre rôle ne permet pas cette action."


class StepRefused(Exception):
    """A business rule refuses the action; the message is for the user, in French."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def show_in(self, form) -> None:
        """Next to its field, or above the form; what was typed stays in the form."""
        form.add_error(self.field if self.field in form.fields else None, self.message)


def check_agency(actor: User, agency_id: int) -> None:
    """Staff act on their own agency only; another agency's object does not exist for them."""
    if actor.agency_id != agency_id:
        raise Http404("Introuvable dans votre agence.")


def check_role(actor: User, *roles: str) -> None:
    if not actor.has_role(*roles):
        raise PermissionDenied(ROLE_REFUSED)
