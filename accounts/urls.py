from django.urls import path

from accounts import views

urlpatterns = [
    path("connexion/second-facteur/", views.second_factor, name="second_factor"),
    path("compte/mot-de-passe/", views.PasswordChange.as_view(), name="password_change"),
    path("securite/", views.security_events, name="security_events"),
]
