from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.core import serializers
from django.core.management.base import BaseCommand
from django.core.management.color import no_style
from django.db import connection, transaction

from contracts.enums import Role
from contracts.models import User

FIXTURES = Path(settings.BASE_DIR) / "fixtures"


def load_fixture(path: Path) -> tuple[int, int]:
    """Insert the fixture's objects that are not in the database yet; leave the others alone.

    Unlike loaddata, a second run changes nothing, and the work done in the demo since the first
    run (a terminated contract, a settled invoice) is never overwritten. Returns (added, kept).
    """
    added = kept = 0
    models = set()
    with path.open(encoding="utf-8") as stream:
        for item in serializers.deserialize("json", stream, handle_forward_references=True):
            model = type(item.object)
            models.add(model)
            if model._default_manager.filter(pk=item.object.pk).exists():
                kept += 1
                continue
            item.save()
            added += 1
    # Rows came with explicit ids: move each sequence past them.
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), list(models)):
            cursor.execute(sql)
    return added, kept


class Command(BaseCommand):
    help = (
        "Charge les données de référence (agences, tarifs) et de démonstration, sans rien écraser."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reference-only", action="store_true", help="Agences et tarifs seulement."
        )
        parser.add_argument(
            "--logins", action="store_true", help="Affiche ensuite les comptes de démonstration."
        )

    def handle(self, *args, reference_only: bool = False, logins: bool = False, **options):
        # The roles come with migration 0002; make sure of them before users refer to them.
        for role in Role.values:
            Group.objects.get_or_create(name=role)
        names = ["reference.json"] if reference_only else ["reference.json", "demo.json"]
        for name in names:
            with transaction.atomic():
                added, kept = load_fixture(FIXTURES / name)
            if options["verbosity"]:
                self.stdout.write(f"{name} : {added} objets ajoutés, {kept} déjà présents.")
        if logins:
            self.print_logins()

    def print_logins(self) -> None:
        users = User.objects.filter(is_demo=True).select_related("agency").order_by("username")
        labels = dict(Role.choices)
        self.stdout.write("")
        self.stdout.write(
            f"Comptes de démonstration (mot de passe : {settings.DEMO_PASSWORD}, "
            "accepté seulement quand DEBUG est actif) :"
        )
        for user in users.prefetch_related("groups"):
            roles = ", ".join(labels.get(g.name, g.name) for g in user.groups.all())
            self.stdout.write(f"  {user.username:<14} {user.agency.name:<18} {roles}")
