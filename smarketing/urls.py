from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.views import home

urlpatterns = [
    path("", home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("leads/import/", include("imports.urls")),  # before leads/: the import pages
    path("leads/", include("leads.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("slas/", include("slas.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("", include("core.urls")),
    path("api/v1/", include("smarketing.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
