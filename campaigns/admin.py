from django.contrib import admin

from campaigns.models import (
    CalendarFeed,
    Campaign,
    CampaignChange,
    ContentRequest,
    EnablementResource,
    FollowUpTemplate,
    TalkingPoint,
)


class TalkingPointInline(admin.TabularInline):
    model = TalkingPoint
    extra = 0
    max_num = 3


class FollowUpTemplateInline(admin.StackedInline):
    model = FollowUpTemplate
    extra = 0


class EnablementResourceInline(admin.TabularInline):
    model = EnablementResource
    extra = 0


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "channel", "status", "start_date", "end_date", "owner", "cost")
    list_filter = ("channel", "status")
    search_fields = ("name", "audience")
    date_hierarchy = "start_date"
    list_select_related = ("owner",)
    readonly_fields = ("launch_notified_at", "archived_at")
    inlines = [TalkingPointInline, FollowUpTemplateInline, EnablementResourceInline]


@admin.register(CampaignChange)
class CampaignChangeAdmin(admin.ModelAdmin):
    list_display = ("campaign", "kind", "from_status", "to_status", "actor", "created_at")
    list_filter = ("kind",)
    list_select_related = ("campaign", "actor")

    def has_change_permission(self, request, obj=None):
        return False  # history is immutable

    def has_add_permission(self, request):
        return False


@admin.register(ContentRequest)
class ContentRequestAdmin(admin.ModelAdmin):
    list_display = ("pk", "kind", "lead", "requested_by", "status", "need_by", "taken_by")
    list_filter = ("status", "kind")
    list_select_related = ("lead", "requested_by", "taken_by")
    raw_id_fields = ("lead",)


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ("user", "created_at", "rotated_at")
    readonly_fields = ("user", "token_hash", "created_at", "rotated_at")
