from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "contracts"
    verbose_name = "Contrats et clients"

    def ready(self) -> None:
        from contracts.database import grant_application_role  # noqa: F401
