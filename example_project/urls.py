from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("example_project.accounts.urls")),
    # django-cedula's JSON view of the user's validation, which the profile's status card polls.
    path("cedula/", include("django_cedula.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
