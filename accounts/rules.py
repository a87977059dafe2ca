"""What every write checks before it acts: who acts, and on which agency's records. Shared by
the procedure and by the billing and interventions records below it."""

from django.core.exceptions import PermissionDenied

from contracts.enums import OPERATIONAL_ROLES, Role
from contracts.errors import NotFound
from contracts.models import User

ROLE_REFUSED = "Votre rôle ne permet pas cette action."
ROLES_CONFLICT = (
    "Votre compte cumule des rôles incompatibles ({roles}) : aucune action n'est possible avant "
    "que l'administration les sépare."
)
SOD_REPORT = (
    "Vous avez saisi ce compte-rendu : un autre responsable doit le signer (séparation des tâches)."
)
SOD_REPORT_AGENT = (
    "Vous avez fait cette intervention : un autre responsable doit signer votre compte-rendu "
    "(séparation des tâches)."
)
SOD_SETTLE = (
    "Vous avez validé cette facture : un autre agent doit la régler (séparation des tâches)."
)


class StepRefused(Exception):
    """A business rule refuses the action; the message is for the user, in French."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    # A refusal for separation of duties is also a security event (contracts.audit), written by
    # the page that shows it, outside the step's rolled-back transaction.
    duties = False

    def show_in(self, form) -> None:
        """Next to its field, or above the form; what was typed stays in the form."""
        form.add_error(self.field if self.field in form.fields else None, self.message)


class DutiesRefused(StepRefused):
    duties = True


class DraftChanged(StepRefused):
    """The figures a confirmation was given on changed before it reached the service: nothing is
    written, and the page shows the new figures to be confirmed again."""


def check_agency(actor: User, agency_id: int) -> None:
    """Staff act on their own agency only; another agency's object does not exist for them."""
    if actor.agency_id != agency_id:
        raise NotFound("Introuvable dans votre agence.")


def forbidden_combination(roles) -> list[str]:
    """The roles that may not be held together (DESIGN §11): the DCC admin with any role of the
    procedure or the chef d'agence's; an auditor (DIG/DAI) with any role that acts or
    administers, since he controls them all; reception with the cash desk."""
    held = set(roles)
    watched = {*OPERATIONAL_ROLES, Role.MANAGER}
    if Role.AUDITOR in held and held & {*watched, Role.ADMIN}:
        return [Role.AUDITOR, *sorted(held & {*watched, Role.ADMIN})]
    if Role.ADMIN in held and held & watched:
        return [Role.ADMIN, *sorted(held & watched)]
    if {Role.RECEPTION, Role.CASHIER} <= held:
        return [Role.RECEPTION, Role.CASHIER]
    return []


def check_role(actor: User, *roles: str) -> None:
    if not actor.has_role(*roles):
        raise PermissionDenied(ROLE_REFUSED)
    if conflict := forbidden_combination(actor.roles):
        labels = dict(Role.choices)
        raise PermissionDenied(ROLES_CONFLICT.format(roles=", ".join(labels[r] for r in conflict)))


def check_other_person(actor: User, earlier_id: int | None, message: str) -> None:
    """Separation of duties: the one who did the earlier part does not do the next one too."""
    if earlier_id is not None and earlier_id == actor.pk:
        raise DutiesRefused(message)
