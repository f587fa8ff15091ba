"""Evaluation: test sets, runs, metrics and reports (see metrics.py for the pure part)."""
