from django.apps import AppConfig


class BotcoreConfig(AppConfig):
    """Chat doors (Slack, Discord). They only call `ragengine.services.ask`."""

    name = "botcore"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The engine announces finished evaluation runs with reports to deliver; the doors
        # post them (the engine never imports a door).
        from botcore.reports import on_reports_pending
        from ragengine.evaluation.signals import reports_pending

        reports_pending.connect(on_reports_pending, dispatch_uid="botcore.reports")
