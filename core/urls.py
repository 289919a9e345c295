from django.urls import path

from core import views

app_name = "core"
urlpatterns = [
    path("system/status/", views.system_status, name="status"),
]
