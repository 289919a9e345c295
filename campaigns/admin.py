from django.contrib import admin

from campaigns.models import Campaign, TalkingPoint


class TalkingPointInline(admin.TabularInline):
    model = TalkingPoint
    extra = 0
    max_num = 3


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "channel", "status", "start_date", "end_date", "owner", "cost")
    list_filter = ("channel", "status")
    search_fields = ("name", "audience")
    date_hierarchy = "start_date"
    list_select_related = ("owner",)
    inlines = [TalkingPointInline]
