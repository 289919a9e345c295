"""Each page module owns its routes; the app's namespace joins them."""

from slas.views import agreements, audit, team

app_name = "slas"
urlpatterns = [
    *agreements.urlpatterns,
    *team.urlpatterns,
    *audit.urlpatterns,
]
