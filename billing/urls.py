from django.urls import path

from billing import views

urlpatterns = [
    path("caisse/", views.cash_desk, name="cash_desk"),
    path("factures/<int:pk>/", views.invoice_detail, name="invoice_detail"),
    path("recus/<int:pk>/", views.receipt, name="receipt"),
    path("contrats/<str:number>/avance/", views.advance_record, name="advance_record"),
    path("documents/<int:pk>/", views.document_pdf, name="document_pdf"),
    path("documents/<int:pk>/imprimer/", views.document_print, name="document_print"),
    path("documents/<int:pk>/regenerer/", views.document_regenerate, name="document_regenerate"),
]
