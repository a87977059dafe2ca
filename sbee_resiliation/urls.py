from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts.forms import LoginForm
from handoff.api import urlpatterns as handoff_api
from imports import views as import_views
from sbee_resiliation.health import health
from sbee_resiliation.views import favicon

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("sante/", health, name="health"),
    path(
        "connexion/",
        auth_views.LoginView.as_view(
            authentication_form=LoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("deconnexion/", auth_views.LogoutView.as_view(), name="logout"),
    # The import page, in the admin's frame and behind its permission (the DCC admin).
    path(
        "admin/import/",
        admin.site.admin_view(import_views.import_contracts),
        name="import_contracts",
    ),
    path(
        "admin/import/<int:pk>/",
        admin.site.admin_view(import_views.import_run_page),
        name="import_run",
    ),
    path(
        "admin/import/exemples/<str:name>",
        admin.site.admin_view(import_views.import_sample),
        name="import_sample",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", handoff_api()),
    path("", include("accounts.urls")),
    path("", include("notifications.urls")),
    path("", include("supervision.urls")),
    path("", include("field.urls")),
    path("", include("procedure.urls")),
    path("", include("billing.urls")),
    path("", include("interventions.urls")),
]
