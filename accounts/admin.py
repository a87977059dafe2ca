"""The admin's pages for the staff: users and their roles, password resets, enrolment codes of
the second factor, security events."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.shortcuts import redirect
from django.utils import timezone

from accounts.enrolment import enrolment_code_issue, enrolment_code_request
from accounts.rules import StepRefused, forbidden_combination
from contracts.admin import ReadOnlyAdmin, RoleAdmin
from contracts.audit import security_event
from contracts.enums import Role, SecurityEventKind
from contracts.models import EnrolmentCode, PasswordReset, SecurityEvent, User

admin.site.unregister(Group)  # roles are fixed by the procedure; users get them on their page

ROLES_FORBIDDEN = "Ces rôles ne se cumulent pas : {roles} (séparation des tâches)."
OWN_ROLES = "Vous ne pouvez pas changer vos propres rôles : un autre administrateur le fait."
RESET_PENDING = (
    "Réinitialisation enregistrée : le nouveau mot de passe prendra effet quand un second "
    "administrateur l'aura approuvée (Réinitialisations de mot de passe)."
)
ACCOUNT_PENDING = (
    "Compte créé sans mot de passe utilisable : le mot de passe choisi prendra effet quand un "
    "second administrateur l'aura approuvé (Réinitialisations de mot de passe)."
)


class RolesChecked:
    """Refuses forbidden combinations of roles, and changes to one's own roles."""

    acting_user = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "groups" in self.fields:
            labels = dict(Role.choices)
            self.fields["groups"].label = "Rôles"
            self.fields["groups"].help_text = ""
            self.fields["groups"].label_from_instance = lambda g: labels.get(g.name, g.name)

    def clean(self):
        data = super().clean()
        roles = {group.name for group in data.get("groups") or []}
        if conflict := forbidden_combination(roles):
            labels = dict(Role.choices)
            self.add_error(
                "groups", ROLES_FORBIDDEN.format(roles=", ".join(labels[r] for r in conflict))
            )
        own = self.instance.pk and self.acting_user and self.instance.pk == self.acting_user.pk
        if own and roles != set(self.instance.groups.values_list("name", flat=True)):
            self.add_error("groups", OWN_ROLES)
        return data


class StaffUserChangeForm(RolesChecked, UserChangeForm):
    pass


class StaffUserCreationForm(RolesChecked, AdminUserCreationForm):
    pass


@admin.register(User)
class StaffUserAdmin(RoleAdmin, UserAdmin):
    """Users and their roles. Every change is a security event; a password set or reset here
    takes effect only once a second admin approves it."""

    form = StaffUserChangeForm
    add_form = StaffUserCreationForm
    list_display = ["username", "last_name", "first_name", "agency", "is_active", "is_demo"]
    list_filter = ["agency", "groups", "is_active", "is_demo"]
    list_select_related = ["agency"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Identité", {"fields": ["last_name", "first_name", "email"]}),
        ("Agence et rôles", {"fields": ["agency", "groups", "is_active", "is_demo"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["username", "last_name", "first_name", "agency", "groups"],
            },
        ),
        ("Mot de passe", {"fields": ["usable_password", "password1", "password2"]}),
    ]
    # A demo account is made by the demo loader only: the admin cannot turn one on or off.
    readonly_fields = ["last_login", "date_joined", "is_demo"]
    filter_horizontal = ["groups"]

    actions = ["ask_enrolment_code"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.acting_user = request.user
        return form

    @admin.action(description="Demander un code d'enrôlement du second facteur")
    def ask_enrolment_code(self, request, queryset):
        done = 0
        for user in queryset:
            try:
                enrolment_code_request(user, actor=request.user, request=request)
            except StepRefused as refused:
                messages.error(request, f"{user} : {refused.message}")
            else:
                done += 1
        if done:
            messages.success(
                request,
                f"{done} code(s) d'enrôlement demandé(s) : un second administrateur les émet "
                "(Codes d'enrôlement du second facteur).",
            )

    def save_model(self, request, obj, form, change):
        obj._roles_before = set(obj.groups.values_list("name", flat=True)) if change else set()
        pending = None
        if not change and obj.has_usable_password():
            pending, obj.password = obj.password, make_password(None)
        super().save_model(request, obj, form, change)
        if not change:
            security_event(
                SecurityEventKind.ACCOUNT_CREATED, actor=request.user, user=obj, request=request
            )
        elif form.changed_data:
            security_event(
                SecurityEventKind.ACCOUNT_CHANGED,
                actor=request.user,
                user=obj,
                request=request,
                data={"champs": [f for f in form.changed_data if f != "groups"]},
            )
        if pending:
            PasswordReset.objects.create(user=obj, password=pending, requested_by=request.user)
            security_event(
                SecurityEventKind.PASSWORD_RESET_REQUESTED,
                actor=request.user,
                user=obj,
                request=request,
            )
            messages.info(request, ACCOUNT_PENDING)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        after = set(user.groups.values_list("name", flat=True))
        before = getattr(user, "_roles_before", set())
        labels = dict(Role.choices)
        for role in sorted(after - before):
            security_event(
                SecurityEventKind.ROLE_GRANTED,
                actor=request.user,
                user=user,
                request=request,
                data={"rôle": labels.get(role, role)},
            )
        for role in sorted(before - after):
            security_event(
                SecurityEventKind.ROLE_REVOKED,
                actor=request.user,
                user=user,
                request=request,
                data={"rôle": labels.get(role, role)},
            )

    def user_change_password(self, request, id, form_url=""):
        """A reset waits for a second admin's approval instead of taking effect."""
        user = self.get_object(request, unquote(id))
        if (
            user is None
            or request.method != "POST"
            or not self.has_change_permission(request, user)
        ):
            return super().user_change_password(request, id, form_url)
        form = self.change_password_form(user, request.POST)
        if not form.is_valid():
            return super().user_change_password(request, id, form_url)
        PasswordReset.objects.create(
            user=user,
            password=make_password(form.cleaned_data["password1"]),
            requested_by=request.user,
        )
        security_event(
            SecurityEventKind.PASSWORD_RESET_REQUESTED,
            actor=request.user,
            user=user,
            request=request,
        )
        messages.info(request, RESET_PENDING)
        return redirect("admin:contracts_user_change", user.pk)


@admin.register(PasswordReset)
class PasswordResetAdmin(ReadOnlyAdmin):
    """Pending resets, approved by an admin who neither asked for it nor owns the account."""

    list_display = ["user", "requested_by", "requested_at", "approved_by", "approved_at"]
    list_select_related = ["user", "requested_by", "approved_by"]
    exclude = ["password"]
    actions = ["approve"]

    @admin.action(description="Approuver les réinitialisations choisies")
    def approve(self, request, queryset):
        done = 0
        for pk in queryset.values_list("pk", flat=True):
            with transaction.atomic():
                reset = (
                    PasswordReset.objects.select_for_update(of=("self",))
                    .select_related("user")
                    .get(pk=pk)
                )
                if reset.approved_at is not None:
                    continue
                if request.user.pk in (reset.requested_by_id, reset.user_id):
                    messages.error(
                        request,
                        f"{reset.user} : un autre administrateur que le demandeur et le "
                        "titulaire du compte doit approuver.",
                    )
                    continue
                reset.approved_by = request.user
                reset.approved_at = timezone.now()
                reset.save(update_fields=["approved_by", "approved_at"])
                User.objects.filter(pk=reset.user_id).update(password=reset.password)
                security_event(
                    SecurityEventKind.PASSWORD_RESET_APPROVED,
                    actor=request.user,
                    user=reset.user,
                    request=request,
                )
            done += 1
        if done:
            messages.success(request, f"{done} réinitialisation(s) approuvée(s).")


@admin.register(EnrolmentCode)
class EnrolmentCodeAdmin(ReadOnlyAdmin):
    """Codes asked for, issued by a second admin who is shown each code once."""

    list_display = ["user", "requested_by", "requested_at", "issued_by", "issued_at", "used_at"]
    list_select_related = ["user", "requested_by", "issued_by"]
    exclude = ["code_hash"]
    actions = ["issue"]

    @admin.action(description="Émettre les codes choisis (chacun affiché une seule fois)")
    def issue(self, request, queryset):
        for asked in queryset.select_related("user"):
            try:
                code = enrolment_code_issue(asked, actor=request.user, request=request)
            except StepRefused as refused:
                messages.error(request, f"{asked.user} : {refused.message}")
            else:
                messages.warning(
                    request,
                    f"Code d'enrôlement de {asked.user.username} : {code} — affiché une seule "
                    "fois ; remettez-le à la personne elle-même.",
                )


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "kind", "user", "username", "actor", "ip_address"]
    list_filter = ["kind"]
    list_select_related = ["user", "actor"]
