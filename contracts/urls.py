from django.urls import path

from contracts import accounts, views

urlpatterns = [
    path("", views.home, name="home"),
    path("contrats/", views.contract_search, name="contract_search"),
    path("contrats/<str:number>/", views.contract_detail, name="contract_detail"),
    path("connexion/second-facteur/", accounts.second_factor, name="second_factor"),
    path("compte/mot-de-passe/", accounts.PasswordChange.as_view(), name="password_change"),
    path("securite/", accounts.security_events, name="security_events"),
]
