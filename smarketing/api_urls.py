from django.urls import include, path
from rest_framework.routers import SimpleRouter

from core.api import TokenObtainView
from leads.api import LeadViewSet, QueueClaimView

leads_router = SimpleRouter()
leads_router.register("leads", LeadViewSet, basename="api-lead")

urlpatterns = [
    path("auth/token/", TokenObtainView.as_view(), name="api-token"),
    path("queue/claim/", QueueClaimView.as_view(), name="api-queue-claim"),
    path("", include("leads.scoring_api")),
    path("", include("leads.inbound_api")),
    path("slas/audit/", include("slas.audit_api")),  # before any slas/ router: {pk} matches it
    *leads_router.urls,
    path("", include("campaigns.api")),
    path("", include("slas.api")),
]
