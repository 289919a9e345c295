"""Each page module owns its routes; the app's namespace joins them."""

from leads.views import detail, management, marketing, pipeline, queue, scoring

app_name = "leads"
urlpatterns = [
    *queue.urlpatterns,
    *detail.urlpatterns,
    *pipeline.urlpatterns,
    *marketing.urlpatterns,
    *management.urlpatterns,
    *scoring.urlpatterns,
]
