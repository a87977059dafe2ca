from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.postgres.aggregates import ArrayAgg
from django.utils.crypto import constant_time_compare


class RolesBackend(ModelBackend):
    """Passwords as Django checks them; on every page, the logged-in user and their roles in one
    query (not one for the user, then one for the roles)."""

    def get_user(self, user_id):
        user = (
            get_user_model()
            ._default_manager.annotate(role_names=ArrayAgg("groups__name", distinct=True))
            .filter(pk=user_id)
            .first()
        )
        if user is None or not self.user_can_authenticate(user):
            return None
        user._roles = frozenset(name for name in user.role_names if name)
        return user


class DemoPasswordBackend(RolesBackend):
    """Lets the demo users in with the documented demo password, and only while DEBUG is on.

    Demo users carry no usable password of their own, so with DEBUG off they cannot log in at all.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not settings.DEBUG or username is None or password is None:
            return None
        if not constant_time_compare(password, settings.DEMO_PASSWORD):
            return None
        user = get_user_model().objects.filter(username=username, is_demo=True).first()
        if user is None or not self.user_can_authenticate(user):
            return None
        return user
