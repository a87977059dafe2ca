from django.urls import path

from supervision import views

urlpatterns = [
    path("demandes/", views.request_list, name="request_list"),
    path("demandes/export/<slug:kind>.<slug:fmt>", views.request_export, name="request_export"),
    path("tableau-de-bord/", views.dashboard, name="dashboard"),
    path("caisse/journal/", views.cash_journal, name="cash_journal"),
    path("caisse/journal/export.<slug:fmt>", views.cash_journal_export, name="cash_journal_export"),
    path("controle/", views.exceptions, name="exceptions"),
    path("controle/<slug:code>/", views.exception_list, name="exception_list"),
]
