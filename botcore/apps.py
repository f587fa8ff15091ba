from django.apps import AppConfig


class BotcoreConfig(AppConfig):
    """Chat doors (Slack, Discord). They only call `ragengine.services.ask`."""

    name = "botcore"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The engine announces finished evaluation runs with reports to deliver, and alert
        # notices; the doors post them (the engine never imports a door).
        from botcore.alerts import on_alerts_pending
        from botcore.reports import on_reports_pending
        from ragengine.alerts.signals import alerts_pending
        from ragengine.evaluation.signals import reports_pending

        reports_pending.connect(on_reports_pending, dispatch_uid="botcore.reports")
        alerts_pending.connect(on_alerts_pending, dispatch_uid="botcore.alerts")
