from django.apps import AppConfig


class AdminsiteConfig(AppConfig):
    """Project-level pieces: the `serve` supervisor, admin bootstrap, dashboard pages."""

    name = "adminsite"
    verbose_name = "Arandu site"
