"""Manager pages for outbound webhooks: the endpoints, create and edit, rotate the secret,
disable and enable, send a test event, an endpoint's delivery log with "Retry now". Every
view checks the role (managers only, 403 otherwise) and looks its object up (404); writes go
through webhooks.services and refusals come back as form errors or messages."""

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.roles import Role, role_required
from webhooks.forms import EVENT_LABELS, EndpointForm
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.selectors import endpoint_deliveries, endpoint_list
from webhooks.services import (
    MAX_ATTEMPTS,
    EndpointInvalid,
    webhook_delivery_retry,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_set_active,
    webhook_endpoint_update,
    webhook_test_send,
)

manager_only = role_required(Role.MANAGER)
LOG_PAGE_SIZE = 25


def _form_errors(form: EndpointForm, exc: DomainError) -> None:
    errors = exc.errors if isinstance(exc, EndpointInvalid) else {exc.field: [exc.message]}
    for field, field_errors in errors.items():
        for error in field_errors:
            form.add_error(field if field in form.fields else None, error)


def _secret_page(request, endpoint: WebhookEndpoint, secret: str, *, created: bool):
    """The one response that shows the secret: not cached, not stored in a message cookie."""
    response = render(
        request,
        "webhooks/secret.html",
        {"title": "Signing secret", "endpoint": endpoint, "secret": secret, "created": created},
    )
    response["Cache-Control"] = "no-store"
    return response


@manager_only
def endpoints(request):
    return render(
        request,
        "webhooks/endpoint_list.html",
        {"title": "Webhooks", "endpoints": list(endpoint_list()), "labels": EVENT_LABELS},
    )


@never_cache
@manager_only
def endpoint_new(request):
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = webhook_endpoint_create(actor=request.user, **form.service_kwargs())
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            return _secret_page(request, endpoint, endpoint.secret, created=True)
    return render(
        request,
        "webhooks/endpoint_form.html",
        {"title": "New webhook endpoint", "form": form, "endpoint": None},
        status=400 if form.errors else 200,
    )


@manager_only
def endpoint_edit(request, pk: int):
    endpoint = get_object_or_404(WebhookEndpoint.objects.select_related("created_by"), pk=pk)
    form = EndpointForm(request.POST or None, initial=EndpointForm.initial_for(endpoint))
    if request.method == "POST" and form.is_valid():
        try:
            webhook_endpoint_update(
                endpoint_id=endpoint.pk, actor=request.user, **form.service_kwargs()
            )
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect("webhooks:endpoint", pk=endpoint.pk)
    return render(
        request,
        "webhooks/endpoint_form.html",
        {"title": f"Webhook {endpoint}", "form": form, "endpoint": endpoint},
        status=400 if form.errors else 200,
    )


@require_POST
@manager_only
def endpoint_rotate_secret(request, pk: int):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    secret = webhook_endpoint_rotate_secret(endpoint_id=endpoint.pk, actor=request.user)
    return _secret_page(request, endpoint, secret, created=False)


@require_POST
@manager_only
def endpoint_active(request, pk: int):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    active = request.POST.get("active") == "1"
    webhook_endpoint_set_active(endpoint_id=endpoint.pk, actor=request.user, active=active)
    if active:
        messages.success(request, f"{endpoint} is enabled: waiting deliveries go out now.")
    else:
        messages.success(request, f"{endpoint} is disabled: its deliveries wait until enabled.")
    return redirect("webhooks:endpoints")


@require_POST
@manager_only
def endpoint_test(request, pk: int):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    try:
        webhook_test_send(endpoint_id=endpoint.pk, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Test event queued: its delivery is at the top of the log.")
    return redirect("webhooks:deliveries", pk=endpoint.pk)


@manager_only
def deliveries(request, pk: int):
    endpoint = get_object_or_404(WebhookEndpoint.objects.defer("secret"), pk=pk)
    status = request.GET.get("status", "")
    page = Paginator(
        endpoint_deliveries(endpoint_id=endpoint.pk, status=status), LOG_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    for delivery in page:
        delivery.payload_text = json.dumps(delivery.payload, indent=2, sort_keys=True)
    return render(
        request,
        "webhooks/delivery_list.html",
        {
            "title": f"Deliveries to {endpoint}",
            "endpoint": endpoint,
            "page": page,
            "status": status if status in WebhookDelivery.Status.values else "",
            "statuses": WebhookDelivery.Status.choices,
            "query": f"status={status}" if status in WebhookDelivery.Status.values else "",
            "max_attempts": MAX_ATTEMPTS,
        },
    )


@require_POST
@manager_only
def delivery_retry(request, pk: int):
    delivery = get_object_or_404(WebhookDelivery.objects.only("pk", "endpoint_id"), pk=pk)
    try:
        webhook_delivery_retry(delivery_id=delivery.pk, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Retrying now: the log shows the outcome in a moment.")
    return redirect("webhooks:deliveries", pk=delivery.endpoint_id)
