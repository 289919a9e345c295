from django.contrib import admin

from leads.models import Lead, LeadStageChange


class LeadStageChangeInline(admin.TabularInline):
    model = LeadStageChange
    extra = 0
    can_delete = False
    readonly_fields = ("from_stage", "to_stage", "actor", "reason_code", "note", "created_at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ("email", "full_name", "company", "stage", "kind", "owner", "score")
    list_filter = ("stage", "kind", "temperature", "source_channel")
    search_fields = ("email", "first_name", "last_name", "company")
    list_select_related = ("owner", "source_campaign")
    raw_id_fields = ("owner", "source_campaign")
    # Stage, owner and score change only through the lifecycle and scoring services.
    readonly_fields = ("stage", "kind", "score", "temperature", "stage_changed_at")
    inlines = [LeadStageChangeInline]


@admin.register(LeadStageChange)
class LeadStageChangeAdmin(admin.ModelAdmin):
    list_display = ("lead", "from_stage", "to_stage", "actor", "reason_code", "created_at")
    list_filter = ("to_stage",)
    list_select_related = ("lead", "actor")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
