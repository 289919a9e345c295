from core.navigation import nav_for
from core.roles import primary_role


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_role": None}
    return {"nav_items": nav_for(user), "user_role": primary_role(user)}
