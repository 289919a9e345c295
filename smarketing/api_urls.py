from django.urls import path

from core.api import TokenObtainView

urlpatterns = [
    path("auth/token/", TokenObtainView.as_view(), name="api-token"),
]
