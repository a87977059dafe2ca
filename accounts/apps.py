from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Comptes, second facteur et sécurité"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401 (the receivers register themselves)
