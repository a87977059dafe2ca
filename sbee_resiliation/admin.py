from django.contrib import admin
from django.contrib.admin.apps import AdminConfig

from contracts.enums import Role


class SbeeAdminSite(admin.AdminSite):
    """The Django admin, for the DCC's admin role only (reference data, users, tariffs)."""

    site_header = "SBEE – Administration de la résiliation"
    site_title = "SBEE administration"
    index_title = "Données de référence"

    def index(self, request, extra_context=None):
        """The admin's dashboard: records the billing system has not acknowledged after a day."""
        from handoff.selectors import unacknowledged

        late = unacknowledged()
        extra = {
            "unacknowledged": late.count(),
            "oldest_unacknowledged": late.order_by("pk").first(),
        }
        return super().index(request, {**extra, **(extra_context or {})})

    def has_permission(self, request) -> bool:
        from accounts.rules import forbidden_combination  # models: after the app registry

        user = request.user
        if forbidden_combination(user.roles):
            return False  # an admin who also holds a role of the procedure acts on neither
        return user.is_active and (user.is_superuser or user.has_role(Role.ADMIN))


class SbeeAdminConfig(AdminConfig):
    default_site = "sbee_resiliation.admin.SbeeAdminSite"
