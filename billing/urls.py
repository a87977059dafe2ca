from django.urls import path

from billing import views

urlpatterns = [
    path("caisse/", views.cash_desk, name="cash_desk"),
    path("caisse/arrete/", views.cash_closing_new, name="cash_closing_new"),
    path("caisse/arretes/<int:pk>/", views.cash_closing, name="cash_closing"),
    path("apurement/", views.to_clear, name="to_clear"),
    path("factures/<int:pk>/", views.invoice_detail, name="invoice_detail"),
    path("recus/<int:pk>/", views.receipt, name="receipt"),
    path("contrats/<str:number>/avance/", views.advance_record, name="advance_record"),
    path("documents/<int:pk>/imprimer/", views.document_print, name="document_print"),
    path("documents/<int:pk>/exemplaires/<int:copy>/", views.document_copy, name="document_copy"),
    path(
        "documents/<int:pk>/consultation/",
        views.document_consultation,
        name="document_consultation",
    ),
    path("documents/<int:pk>/regenerer/", views.document_regenerate, name="document_regenerate"),
    path("verification/<str:token>/", views.attestation_verify, name="attestation_verify"),
]
