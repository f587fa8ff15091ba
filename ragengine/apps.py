from django.apps import AppConfig


class RagengineConfig(AppConfig):
    """The answering engine: knowledge, retrieval, providers, money."""

    name = "ragengine"
    verbose_name = "Knowledge engine"
    default_auto_field = "django.db.models.BigAutoField"
