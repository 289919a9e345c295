from django.utils.functional import SimpleLazyObject

from core.navigation import nav_entries
from core.roles import primary_role
from core.selectors import notification_unread_count


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_entries": [], "user_role": None, "notifications_unread": 0}
    return {
        "nav_entries": nav_entries(user, request.path),
        "user_role": primary_role(user),
        # The header bell: counted once, and only when a template shows it.
        "notifications_unread": SimpleLazyObject(lambda: notification_unread_count(user=user)),
    }
