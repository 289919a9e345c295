# Manager pages: reassignment, territories, absences.
urlpatterns: list = []
