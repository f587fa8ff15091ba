"""What the evaluation room tells the rest of the project (the engine never imports a
door: botcore listens here to deliver reports)."""

from django.dispatch import Signal

# Sent once a run ends (done, failed or cancelled), after its summary is saved: run=EvalRun.
run_finished = Signal()

# Sent when a finished run has reports waiting to be delivered (ReportDelivery rows with
# status pending, or failed with attempts left): run=EvalRun. botcore delivers them.
reports_pending = Signal()
