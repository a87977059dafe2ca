from django.urls import path

from procedure import tracking, views

urlpatterns = [
    path("suivi/", tracking.tracking, name="tracking"),
    path("", views.home, name="home"),
    path("contrats/", views.contract_search, name="contract_search"),
    path("contrats/<str:number>/", views.contract_detail, name="contract_detail"),
    path("corbeille/", views.work_queue, name="work_queue"),
    path("contrats/<str:number>/resiliation/", views.request_create, name="request_create"),
    path("demandes/<int:pk>/", views.request_detail, name="request_detail"),
    path("demandes/<int:pk>/sms/", views.request_sms_choice, name="request_sms_choice"),
    path("demandes/<int:pk>/reprise/", views.request_take_over, name="request_take_over"),
    path("demandes/<int:pk>/ordre/", views.request_issue_order, name="request_issue_order"),
    path(
        "demandes/<int:pk>/signature-demandeur/",
        views.request_signature,
        name="request_signature",
    ),
    path("demandes/<int:pk>/nouvelle-date/", views.request_reschedule, name="request_reschedule"),
    path("demandes/<int:pk>/reaffectation/", views.request_reassign, name="request_reassign"),
    path(
        "demandes/<int:pk>/compte-rendu/", views.request_field_report, name="request_field_report"
    ),
    path(
        "demandes/<int:pk>/signature-agent/",
        views.request_agent_sign,
        name="request_agent_sign",
    ),
    path(
        "demandes/<int:pk>/signature-coupure/",
        views.request_approve_report,
        name="request_approve_report",
    ),
    path("demandes/<int:pk>/facture/", views.request_invoice, name="request_invoice"),
    path("factures/<int:pk>/reglement/", views.invoice_settle, name="invoice_settle"),
    path("demandes/<int:pk>/avoir/", views.request_credit_note, name="request_credit_note"),
    path(
        "demandes/<int:pk>/remboursement-exception/",
        views.request_refund_authorisation,
        name="request_refund_authorisation",
    ),
    path("demandes/<int:pk>/depose/", views.request_removal_report, name="request_removal_report"),
    path(
        "demandes/<int:pk>/signature-depose/",
        views.request_sign_removal,
        name="request_sign_removal",
    ),
    path(
        "demandes/<int:pk>/intervention-impossible/",
        views.request_removal_impossible,
        name="request_removal_impossible",
    ),
    path("demandes/<int:pk>/codification/", views.request_confirm, name="request_confirm"),
    path("demandes/<int:pk>/annulation/", views.request_cancel, name="request_cancel"),
]
