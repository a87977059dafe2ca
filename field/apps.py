from django.apps import AppConfig


class FieldConfig(AppConfig):
    name = "field"
    verbose_name = "L'application de terrain (relève, ARPNT)"
