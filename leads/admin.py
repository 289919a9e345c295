from django.contrib import admin

from leads.models import EngagementRule, FitRule, Lead, LeadStageChange, ScoringModel


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


class FitRuleInline(admin.TabularInline):
    model = FitRule
    extra = 0
    can_delete = False
    fields = readonly_fields = ("position", "field", "operator", "value", "points")
    ordering = ("position", "pk")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class EngagementRuleInline(admin.TabularInline):
    model = EngagementRule
    extra = 0
    can_delete = False
    fields = readonly_fields = ("kind", "points", "half_life_days", "cap")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ScoringModel)
class ScoringModelAdmin(admin.ModelAdmin):
    """Read-only: a version never changes once saved, and saving one goes through
    ``scoring_version_create`` (the rules page or the API), which also rescores every lead."""

    list_display = (
        "number",
        "is_active",
        "created_by",
        "created_at",
        "warm_threshold",
        "hot_threshold",
        "mql_threshold",
        "rescored_at",
        "note",
    )
    list_select_related = ("created_by",)
    readonly_fields = (
        "number",
        "is_active",
        "created_by",
        "created_at",
        "note",
        "warm_threshold",
        "hot_threshold",
        "mql_threshold",
        "rescored_at",
    )
    inlines = [FitRuleInline, EngagementRuleInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # Viewing stays allowed (has_view_permission); nothing here can be edited.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
