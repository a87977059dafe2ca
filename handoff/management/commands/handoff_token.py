from django.core.management.base import BaseCommand, CommandError

from handoff.models import ReceivingSystem
from handoff.services import receiving_system_create


class Command(BaseCommand):
    help = "Crée un système destinataire de l'API et affiche son jeton, une seule fois."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Nom du système (par exemple « facturation »).")

    def handle(self, *args, name: str, **options):
        if ReceivingSystem.objects.filter(name=name).exists():
            raise CommandError(f"Le système « {name} » existe déjà.")
        system, token = receiving_system_create(name)
        self.stdout.write(f"Système « {system.name} » créé. Jeton (affiché une seule fois) :")
        self.stdout.write(token)
