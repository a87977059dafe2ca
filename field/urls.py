from django.urls import path

from field import views

urlpatterns = [
    path("terrain/", views.app, name="field_app"),
    path("terrain/tournee.json", views.day, name="field_day"),
    path("terrain/envois/", views.send, name="field_send"),
    path("terrain/sw.js", views.service_worker, name="field_service_worker"),
    path("terrain/manifest.webmanifest", views.manifest, name="field_manifest"),
    path("terrain/ordres/<str:number>.pdf", views.order_pdf, name="field_order_pdf"),
    path("terrain/conflits/<int:pk>/", views.conflict_review, name="field_conflict"),
    path(
        "terrain/feuille-de-route/<str:username>/",
        views.route_sheet,
        name="field_route_sheet",
    ),
]
