from django.contrib import admin

from webhooks.models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Read-only: endpoints are written through the Webhooks pages (their services)."""

    list_display = ["url", "description", "is_active", "created_by", "created_at"]
    list_filter = ["is_active"]
    exclude = ["secret"]
    readonly_fields = [
        "url",
        "description",
        "events",
        "is_active",
        "created_by",
        "created_at",
        "updated_at",
        "secret_rotated_at",
        "failure_notified_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log, read-only."""

    list_display = [
        "event_type",
        "event_id",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    ]
    list_filter = ["status", "event_type"]
    list_select_related = ["endpoint"]
    search_fields = ["=event_id"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.concrete_fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
