from django.apps import AppConfig


class AdminsiteConfig(AppConfig):
    """Project-level pieces: the `serve` supervisor, admin bootstrap, dashboard pages, and
    what makes the background worker observable (adminsite/task_signals.py)."""

    name = "adminsite"
    verbose_name = "Arandu site"

    def ready(self) -> None:
        from adminsite import task_signals

        task_signals.connect()
