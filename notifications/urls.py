from django.urls import path

from notifications import views

urlpatterns = [
    path("sms/rapports/<str:token>/", views.delivery_reports, name="sms_delivery_reports"),
]
