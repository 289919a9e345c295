"""``reverse`` for URLs drawn many times per page (a lead's link and actions in every queue
row, the header's links, every breach message): each route is resolved once."""

from functools import lru_cache

from django.urls import reverse

_PK_SENTINEL = "2147483647"


@lru_cache(maxsize=128)
def _pattern(name: str, *rest: str) -> str:
    return reverse(name, args=[int(_PK_SENTINEL), *rest])


def object_url(name: str, pk: int, *rest: str) -> str:
    """``reverse(name, args=[pk, *rest])``, resolved once per route and ``rest``."""
    return _pattern(name, *rest).replace(_PK_SENTINEL, str(pk), 1)


@lru_cache(maxsize=256)
def route_url(name: str) -> str:
    """``reverse(name)`` for a route without arguments (the header's links on every page)."""
    return reverse(name)
