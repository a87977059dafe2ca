from django.urls import path

from interventions import views

urlpatterns = [
    path("ordres/<int:pk>/", views.order_detail, name="order_detail"),
    path("photos-index/<int:pk>/", views.index_photo, name="index_photo"),
]
