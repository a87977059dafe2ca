from django.apps import AppConfig


class ProcedureConfig(AppConfig):
    name = "procedure"
    verbose_name = "La procédure de résiliation"
