"""Each page module owns its routes; the app's namespace joins them. Fixed paths come before
``<int:pk>/`` ones."""

from campaigns.views import calendar, content, enablement, lead_lists, planning, results

app_name = "campaigns"
urlpatterns = [
    *calendar.urlpatterns,
    *enablement.urlpatterns,
    *content.urlpatterns,
    *results.urlpatterns,
    *lead_lists.urlpatterns,
    *planning.urlpatterns,
]
