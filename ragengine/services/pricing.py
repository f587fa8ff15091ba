"""Cost of a call from the admin-edited price table, in Decimal."""

from __future__ import annotations

from decimal import Decimal

from ragengine.models import ModelPrice

MILLION = Decimal(1_000_000)


class PriceMissing(LookupError):
    """A model without a price can't be budgeted, so it is not used."""


def price_for(*, provider_kind: str, model: str) -> ModelPrice:
    price = ModelPrice.objects.filter(provider_kind=provider_kind, model=model).first()
    if price is None:
        raise PriceMissing(
            f"No price for {provider_kind}:{model}; add it in the admin (0 for free models)."
        )
    return price


def cost_of(*, price: ModelPrice, tokens_in: int, tokens_out: int) -> Decimal:
    return (
        Decimal(tokens_in) * price.input_per_million
        + Decimal(tokens_out) * price.output_per_million
    ) / MILLION
