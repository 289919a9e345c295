"""Small helpers the campaign pages share: reading query parameters, running a POST action."""

from collections.abc import Callable
from datetime import date

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from core.errors import DomainError

READ_ROLES = ("Sales rep", "Marketer")


def param_date(request: HttpRequest, name: str, default: date | None = None) -> date | None:
    try:
        return date.fromisoformat(request.GET.get(name, ""))
    except ValueError:
        return default


def param_int(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def param_choice(request: HttpRequest, name: str, choices) -> str:
    raw = request.GET.get(name, "")
    return raw if raw in choices else ""


def back_to(request: HttpRequest, fallback: str) -> str:
    """The ``next`` form field when it is a safe local path, else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def run_action(
    request: HttpRequest, action: Callable[[], object], *, success: str, then: str
) -> HttpResponse:
    """Run a service for a POST button: a refusal becomes an error message, not a 500."""
    try:
        action()
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    return redirect(then)
