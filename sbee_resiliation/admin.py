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
        from contracts.rules import forbidden_combination  # models: after the app registry

        user = request.user
        if forbidden_combination(user.roles):
            return False  # an admin who also holds a role of the procedure acts on neither
        return user.is_active and (user.is_superuser or user.has_role(Role.ADMIN))


class SbeeAdminConfig(AdminConfig):
    default_site = "sbee_resiliation.admin.SbeeAdminSite"


class RoleAdmin(admin.ModelAdmin):
    """Everything the admin role may see and edit; subclasses narrow it."""

    def _is_admin(self, request) -> bool:
        return request.user.is_active and (
            request.user.is_superuser or request.user.has_role(Role.ADMIN)
        )

    def has_module_permission(self, request) -> bool:
        return self._is_admin(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._is_admin(request)

    def has_add_permission(self, request) -> bool:
        return self._is_admin(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._is_admin(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # reference data is referenced by contracts and invoices: never deleted


class ReadOnlyAdmin(RoleAdmin):
    """Business data is changed through the procedure's pages, never in the admin."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
