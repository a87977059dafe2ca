"""Which agencies a supervising user reads: an auditor (DIG/DAI) every agency, or one Direction
régionale, or one agency, as he chooses; a chef d'agence his own agency, whatever he asks."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Q

from accounts.rules import ROLE_REFUSED, check_role
from contracts.enums import Role
from contracts.models import Agency, Direction, User


@dataclass(frozen=True)
class Scope:
    direction: Direction | None = None
    agency: Agency | None = None
    # A direction's agencies, read once: each query then filters on its own agency column
    # instead of joining the agencies (a join that cost the DR's money query 50 ms).
    direction_agencies: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        if self.agency is not None:
            return f"Agence {self.agency.name}"
        if self.direction is not None:
            return self.direction.name
        return "National (toutes les agences)"

    def q(self, agency_field: str = "agency") -> Q:
        """The filter on a model reached through `agency_field` (an Agency foreign key)."""
        if self.agency is not None:
            return Q(**{f"{agency_field}_id": self.agency.pk})
        if self.direction is not None:
            return Q(**{f"{agency_field}_id__in": self.direction_agencies})
        return Q()

    def params(self) -> dict[str, str]:
        """The scope as query parameters, for the links of a page to its lists."""
        if self.agency is not None:
            return {"agence": self.agency.code}
        if self.direction is not None:
            return {"dr": self.direction.code}
        return {}


def check_supervisor(user: User) -> None:
    """Dashboards, searches beyond the agency, exports and the cash journal: auditors and chefs
    d'agence only."""
    check_role(user, Role.AUDITOR, Role.MANAGER)


def check_controller(user: User) -> None:
    """The controller's exceptions: DIG/DAI only."""
    check_role(user, Role.AUDITOR)


def scope_for(user: User, direction: Direction | None, agency: Agency | None) -> Scope:
    """What the user reads, from what he asked. Staff other than auditors read their agency."""
    if not user.sees_all_agencies:
        if agency is not None and agency.pk != user.agency_id:
            raise PermissionDenied(ROLE_REFUSED)
        return Scope(direction=None, agency=user.agency)
    if agency is not None:
        return Scope(direction=agency.direction, agency=agency)
    if direction is not None:
        agencies = tuple(direction.agencies.order_by("pk").values_list("pk", flat=True))
        return Scope(direction=direction, direction_agencies=agencies)
    return Scope()
