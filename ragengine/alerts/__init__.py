"""Alerts: rules measured against the ledger and the system's state (`rules`), incidents
opened and resolved once each (`evaluate`), deliveries left for the doors (`deliver`), and
signed outbound webhooks with retries (`webhooks`)."""
