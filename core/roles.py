"""The three roles are Django groups; managers may do everything the others may."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import models


class Role(models.TextChoices):
    REP = "Sales rep", "Sales rep"
    MARKETER = "Marketer", "Marketer"
    MANAGER = "Manager", "Manager"


def user_roles(user) -> frozenset[str]:
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_smarketing_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached = cached | {Role.MANAGER.value}
        user._smarketing_roles = cached
    return cached


def has_role(user, *roles: Role) -> bool:
    """True when the user holds one of ``roles``; a manager holds every role."""
    held = user_roles(user)
    return Role.MANAGER in held or any(role in held for role in roles)


def is_rep(user) -> bool:
    return Role.REP in user_roles(user)


def is_marketer(user) -> bool:
    return Role.MARKETER in user_roles(user)


def is_manager(user) -> bool:
    return Role.MANAGER in user_roles(user)


def primary_role(user) -> Role | None:
    held = user_roles(user)
    for role in (Role.MANAGER, Role.MARKETER, Role.REP):
        if role in held:
            return role
    return None


def role_required(*roles: Role) -> Callable:
    """View decorator: login first, then 403 unless the user holds one of ``roles``."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied("Your role cannot open this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
