from django.core.management.base import BaseCommand

from contracts.audit import anchor_write


class Command(BaseCommand):
    help = (
        "Écrit l'ancre des chaînes d'audit maintenant (dans le journal et le fichier des ancres, "
        "AUDIT_ANCHOR_FILE) ; la tâche du worker le fait chaque soir."
    )

    def handle(self, *args, **options):
        self.stdout.write(anchor_write().line())
