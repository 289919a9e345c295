from django.urls import path

from imports import views

app_name = "imports"
urlpatterns = [
    path("", views.lead_import, name="lead_import"),
    path("template.csv", views.lead_import_template, name="lead_import_template"),
    path("<int:pk>/", views.lead_import_batch, name="lead_import_batch"),
    path("<int:pk>/import/", views.lead_import_commit, name="lead_import_commit"),
    path("<int:pk>/errors.csv", views.lead_import_errors, name="lead_import_errors"),
]
