"""DRF permissions shared by the apps' APIs."""

from collections.abc import Callable

from django.contrib.auth.models import User
from rest_framework import permissions


class UserPasses(permissions.BasePermission):
    """A signed-in user for whom ``test(user)`` holds; anyone else is refused with ``message``.

    Listed as an instance: ``permission_classes = [IsAuthenticated, UserPasses(test,
    message=…)]``. DRF calls each entry to get a permission, and calling this returns it, as
    DRF's own ``&``/``|`` combinations do.
    """

    def __init__(self, test: Callable[[User], bool], *, message: str):
        self.test = test
        self.message = message

    def __call__(self) -> "UserPasses":
        return self

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and self.test(user))
