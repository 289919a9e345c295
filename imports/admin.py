from django.contrib import admin

from imports.models import ImportBatch


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = [
        "file_name",
        "created_by",
        "status",
        "row_count",
        "created_count",
        "matched_count",
        "error_count",
        "created_at",
    ]
    list_filter = ["status"]
    exclude = ["content", "outcomes"]
    readonly_fields = [f for f in list_display if f != "file_name"] + ["file_name", "imported_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
