from django.apps import AppConfig


class ProcedureConfig(AppConfig):
    name = "procedure"
    verbose_name = "La procédure de résiliation"

    def ready(self):
        from django.db.models.signals import post_save

        from contracts.models import Delay
        from procedure.deadlines import delay_saved

        post_save.connect(delay_saved, sender=Delay, dispatch_uid="procedure.delay_saved")
