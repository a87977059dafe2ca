from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from contracts.forms import LoginForm
from handoff.api import urlpatterns as handoff_api
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
    path("admin/", admin.site.urls),
    path("api/v1/", handoff_api()),
    path("", include("contracts.urls")),
    path("", include("supervision.urls")),
    path("", include("contracts.procedure.urls")),
    path("", include("billing.urls")),
    path("", include("interventions.urls")),
]
