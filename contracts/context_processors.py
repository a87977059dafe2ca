from contracts.enums import Role


def staff(request) -> dict:
    """What the base layout needs: the roles, to build the navigation."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from contracts.selectors import QUEUES

    return {
        "Role": Role,
        "user_roles": user.roles,
        "has_queue": bool(user.roles & {*QUEUES, Role.CASHIER}),
    }
