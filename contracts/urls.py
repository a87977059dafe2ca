from django.urls import path

from contracts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("contrats/", views.contract_search, name="contract_search"),
    path("contrats/<str:number>/", views.contract_detail, name="contract_detail"),
]
