from django.core.management.base import BaseCommand, CommandError

from accounts.enrolment import enrolment_code_from_console
from contracts.models import User


class Command(BaseCommand):
    help = (
        "Émet un code d'enrôlement du second facteur pour un compte, depuis la console du "
        "serveur (le premier administrateur, qui n'a pas de second administrateur pour le lui "
        "émettre). Le code est affiché une fois ; l'émission est un événement de sécurité."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"Compte introuvable : {username}")
        code = enrolment_code_from_console(user)
        self.stdout.write(f"Code d'enrôlement de {username} (affiché une seule fois) : {code}")
