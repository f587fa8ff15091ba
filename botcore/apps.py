from django.apps import AppConfig


class BotcoreConfig(AppConfig):
    """Chat doors (Slack, Discord). They only call `ragengine.services.ask`."""

    name = "botcore"
    default_auto_field = "django.db.models.BigAutoField"
