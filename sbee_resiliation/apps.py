from django.apps import AppConfig


class SbeeResiliationConfig(AppConfig):
    name = "sbee_resiliation"
    verbose_name = "Projet"
