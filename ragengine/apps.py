from django.apps import AppConfig


class RagengineConfig(AppConfig):
    """The answering engine: knowledge, retrieval, providers, money."""

    name = "ragengine"
    verbose_name = "Knowledge engine"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ragengine.services.dashboard_rollups import connect_signals

        connect_signals()
