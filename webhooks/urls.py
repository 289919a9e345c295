from django.urls import path

from webhooks import views

app_name = "webhooks"
urlpatterns = [
    path("", views.endpoints, name="endpoints"),
    path("new/", views.endpoint_new, name="endpoint_new"),
    path("<int:pk>/", views.endpoint_edit, name="endpoint"),
    path("<int:pk>/rotate-secret/", views.endpoint_rotate_secret, name="endpoint_rotate"),
    path("<int:pk>/active/", views.endpoint_active, name="endpoint_active"),
    path("<int:pk>/test/", views.endpoint_test, name="endpoint_test"),
    path("<int:pk>/deliveries/", views.deliveries, name="deliveries"),
    path("deliveries/<int:pk>/retry/", views.delivery_retry, name="delivery_retry"),
]
