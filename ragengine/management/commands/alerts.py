"""`manage.py alerts evaluate [--kind KIND ...]` and `manage.py alerts test RULE`.

The worker evaluates the rules every minute; it cannot report that it is down itself, so
run `alerts evaluate --kind worker_down` from cron or a health check outside it."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ragengine.alerts.deliver import alert_test_send
from ragengine.alerts.evaluate import alerts_evaluate
from ragengine.models import AlertKind, AlertRule


class Command(BaseCommand):
    help = "Evaluate the alert rules now, or send a rule's test alert."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        evaluate = actions.add_parser("evaluate", help="Evaluate the enabled rules now.")
        evaluate.add_argument(
            "--kind",
            action="append",
            choices=AlertKind.values,
            help="Only rules of this kind (repeatable).",
        )
        test = actions.add_parser("test", help="Send a test alert to a rule's destinations.")
        test.add_argument("rule", help="The rule's name.")

    def handle(self, *args, action: str, **options) -> None:
        if action == "test":
            rule = AlertRule.objects.filter(name=options["rule"]).first()
            if rule is None:
                raise CommandError(f"No alert rule is named {options['rule']!r}.")
            if not rule.destinations.exists():
                raise CommandError(f"The rule {rule.name!r} has no destinations.")
            event = alert_test_send(rule=rule)
            for channel, destination, status, error in event.deliveries.values_list(
                "channel", "destination", "status", "error"
            ):
                self.stdout.write(f"{channel} {destination}: {status} {error}".rstrip())
            return
        summary = alerts_evaluate(kinds=options["kind"])
        for label, names in (
            ("fired", summary.fired),
            ("resolved", summary.resolved),
            ("held by the cool-down", summary.suppressed),
            ("could not be measured", summary.failed),
        ):
            self.stdout.write(f"{label}: {', '.join(names) or '-'}")
        if summary.failed:
            raise CommandError(f"{len(summary.failed)} rule(s) could not be measured.")
