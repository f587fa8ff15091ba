"""Seed: public OpenAI list prices (USD per 1M tokens, standard tier, as published in
2025; admins keep them current in the admin), free local models, two endpoints and a
default tier that answers extractively until an admin adds models to its chain."""

from decimal import Decimal

from django.db import migrations

OPENAI_PRICES = {
    "gpt-5": ("1.25", "10.00"),
    "gpt-5-mini": ("0.25", "2.00"),
    "gpt-5-nano": ("0.05", "0.40"),
    "gpt-4.1": ("2.00", "8.00"),
    "gpt-4.1-mini": ("0.40", "1.60"),
    "gpt-4.1-nano": ("0.10", "0.40"),
    "gpt-4o": ("2.50", "10.00"),
    "gpt-4o-mini": ("0.15", "0.60"),
    "o3": ("2.00", "8.00"),
    "o4-mini": ("1.10", "4.40"),
}
LOCAL_MODELS = ["llama3.2", "llama3.1", "qwen2.5", "mistral", "gemma3"]


def seed(apps, schema_editor):
    ModelPrice = apps.get_model("ragengine", "ModelPrice")
    ProviderEndpoint = apps.get_model("ragengine", "ProviderEndpoint")
    Tier = apps.get_model("ragengine", "Tier")
    for model, (price_in, price_out) in OPENAI_PRICES.items():
        ModelPrice.objects.get_or_create(
            provider_kind="openai",
            model=model,
            defaults={
                "input_per_million": Decimal(price_in),
                "output_per_million": Decimal(price_out),
            },
        )
    for model in LOCAL_MODELS:
        ModelPrice.objects.get_or_create(provider_kind="ollama", model=model)
    ModelPrice.objects.get_or_create(provider_kind="extractive", model="extractive")
    ProviderEndpoint.objects.get_or_create(
        name="openai", defaults={"kind": "openai", "api_key_env": "OPENAI_API_KEY"}
    )
    ProviderEndpoint.objects.get_or_create(
        name="ollama", defaults={"kind": "ollama", "base_url": "http://127.0.0.1:11434"}
    )
    if not Tier.objects.filter(is_default=True).exists():
        Tier.objects.get_or_create(
            name="Standard", defaults={"is_default": True, "hard_limit_policy": "extractive"}
        )


class Migration(migrations.Migration):
    dependencies = [("ragengine", "0002_tiers_budgets_ledger")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
