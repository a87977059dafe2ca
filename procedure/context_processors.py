from contracts.enums import Role
from procedure.queues import QUEUE_ROLES


def staff(request) -> dict:
    """What the base layout needs: the roles, to build the navigation."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "Role": Role,
        "user_roles": user.roles,
        "has_queue": bool(user.roles & {*QUEUE_ROLES, Role.CASHIER}),
    }
