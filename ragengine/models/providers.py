"""Where models run and what they cost. API keys are named by environment variable only."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from ragengine.key_policy import configured_key_policy


class ProviderKind(models.TextChoices):
    OPENAI = "openai", "OpenAI or OpenAI-compatible"
    OLLAMA = "ollama", "Ollama"
    EXTRACTIVE = "extractive", "Extractive (no model)"


class ProviderEndpoint(models.Model):
    """A place to send chat requests: OpenAI, any OpenAI-compatible server, or Ollama."""

    name = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=20, choices=ProviderKind.choices)
    base_url = models.URLField(
        blank=True, help_text="Empty for api.openai.com; e.g. http://vllm:8000/v1 or Ollama host."
    )
    api_key_env = models.CharField(
        max_length=100,
        blank=True,
        help_text="Name of the environment variable holding the API key (never the key).",
    )
    timeout_s = models.FloatField(default=30.0, validators=[MinValueValidator(0.1)])
    max_retries = models.PositiveSmallIntegerField(default=2)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The key variable must pass the deployment's key policy: whoever edits this row
        also chooses where the key is sent (checked again before every call)."""
        key = self.api_key_env
        if not key:
            return
        if key.startswith(("sk-", "sk_")):
            raise ValidationError(
                {"api_key_env": "This looks like a key: enter its variable name."}
            )
        refusal = configured_key_policy().refusal(key)
        if refusal is not None:
            raise ValidationError({"api_key_env": refusal})


class ModelPrice(models.Model):
    """Price per one million tokens. Local models cost 0."""

    provider_kind = models.CharField(max_length=20, choices=ProviderKind.choices)
    model = models.CharField(max_length=120)
    input_per_million = models.DecimalField(
        max_digits=12, decimal_places=6, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    output_per_million = models.DecimalField(
        max_digits=12, decimal_places=6, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    currency = models.CharField(max_length=3, default="USD")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider_kind", "model"]
        constraints = [
            models.UniqueConstraint(fields=["provider_kind", "model"], name="price_unique_model")
        ]

    def __str__(self) -> str:
        return f"{self.provider_kind}:{self.model}"
