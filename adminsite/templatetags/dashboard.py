"""Filters the dashboard's templates format figures with."""

from __future__ import annotations

from django import template

from adminsite import dashboard

register = template.Library()
register.filter("money", dashboard.money)
register.filter("percent", dashboard.percent)
