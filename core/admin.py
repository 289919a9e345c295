from django.contrib import admin

from core.models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ("process", "hostname", "beats", "seen_at")
    readonly_fields = ("process", "hostname", "beats", "seen_at")
