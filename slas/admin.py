"""The SLA in the admin: for looking things up. Agreements, calendars and holidays are
written on the SLA pages (slas.services recomputes open deadlines and clears signatures);
deadlines, breaches, sign-offs and digests are written by the scan, the audit and the
digests only."""

from django.contrib import admin

from slas.models import (
    Agreement,
    AgreementChange,
    AuditSignoff,
    Breach,
    Deadline,
    DigestSent,
    Holiday,
    ResponseTarget,
    WorkingCalendar,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ResponseTargetInline(ReadOnlyInline):
    model = ResponseTarget


class AgreementChangeInline(ReadOnlyInline):
    model = AgreementChange
    fields = ("kind", "actor", "details", "created_at")


class HolidayInline(ReadOnlyInline):
    model = Holiday


@admin.register(Agreement)
class AgreementAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "starts_on",
        "ends_on",
        "calendar",
        "sales_signed_at",
        "marketing_signed_at",
    )
    list_select_related = ("calendar",)
    date_hierarchy = "starts_on"
    inlines = [ResponseTargetInline, AgreementChangeInline]


@admin.register(WorkingCalendar)
class WorkingCalendarAdmin(ReadOnlyAdmin):
    list_display = ("name", "timezone", "working_days", "day_start", "day_end")
    inlines = [HolidayInline]


@admin.register(Deadline)
class DeadlineAdmin(ReadOnlyAdmin):
    list_display = ("lead", "kind", "owner", "starts_at", "due_at", "met_at", "breached_at")
    list_filter = ("kind",)
    list_select_related = ("lead", "owner")
    raw_id_fields = ("handoff", "lead", "owner", "agreement")
    date_hierarchy = "due_at"


@admin.register(Breach)
class BreachAdmin(ReadOnlyAdmin):
    list_display = ("lead", "kind", "owner", "due_at", "detected_at")
    list_filter = ("kind",)
    list_select_related = ("lead", "owner")
    date_hierarchy = "due_at"


@admin.register(AuditSignoff)
class AuditSignoffAdmin(ReadOnlyAdmin):
    list_display = ("month", "side", "signed_by", "signed_at")
    list_select_related = ("signed_by",)


@admin.register(DigestSent)
class DigestSentAdmin(ReadOnlyAdmin):
    list_display = ("user", "kind", "period", "sent_at")
    list_filter = ("kind",)
    list_select_related = ("user",)
