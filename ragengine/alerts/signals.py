"""What the alerts room tells the doors (the engine never imports a door)."""

from django.dispatch import Signal

# Sent when an incident has notices waiting to be delivered (AlertDelivery rows pending,
# or failed with attempts left): event=AlertEvent. botcore delivers them.
alerts_pending = Signal()
