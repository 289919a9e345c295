from django.urls import path

from core import views

app_name = "core"
urlpatterns = [
    path("system/status/", views.system_status, name="status"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/bell/", views.notifications_bell, name="notifications_bell"),
    path("notifications/panel/", views.notifications_panel, name="notifications_panel"),
    path("notifications/read-all/", views.notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification_open"),
]
