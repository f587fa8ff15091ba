"""Seed: one cache rule per category, in priority order (lower first). Patterns are
searched in the lower-cased, accent-free question; admins edit them in the admin.
Questions no rule matches are kept for ARANDU_CACHE_DEFAULT_TTL (24 h by default)."""

from django.db import migrations

RULES = [
    # name, category, priority, ttl_seconds, semantic, pattern
    (
        "Real-time data",
        "realtime",
        10,
        300,
        False,
        r"\b(today|tonight|now|right now|current(ly)?|latest|live|status|this (week|month)"
        r"|hoje|agora|atual(mente)?|ultim[oa]s?|esta semana|este mes)\b",
    ),
    (
        "Code",
        "code",
        20,
        3600,
        True,
        r"\b(code|script|function|method|class|error|exception|stack ?trace|traceback|bug"
        r"|sql|regex|python|javascript|codigo|funcao|erro|excecao)\b",
    ),
    (
        "Document analysis",
        "document_analysis",
        30,
        3600,
        True,
        r"\b(summari[sz]e|summary|analy[sz]e|analysis|compare|comparison|this (document|file|pdf)"
        r"|resum[oa]|resumir|analise|analisar|comparar|compara[cç]ao|este documento)\b",
    ),
    ("Quick queries", "quick", 40, 1800, True, r"^\W*[^\W_]+(?:\W+[^\W_]+){0,2}\W*$"),
    (
        "Factual",
        "factual",
        50,
        86400,
        True,
        r"\b(what|who|when|where|which|how (many|much|long)|policy|policies|rule|allowed"
        r"|o que|qual|quais|quem|quando|onde|quantos?|quantas?|politica|regra|permitido)\b",
    ),
]


def seed(apps, schema_editor):
    CacheRule = apps.get_model("ragengine", "CacheRule")
    for name, category, priority, ttl, semantic, pattern in RULES:
        CacheRule.objects.get_or_create(
            name=name,
            defaults={
                "category": category,
                "priority": priority,
                "ttl_seconds": ttl,
                "semantic_enabled": semantic,
                "pattern": pattern,
            },
        )


def unseed(apps, schema_editor):
    CacheRule = apps.get_model("ragengine", "CacheRule")
    CacheRule.objects.filter(name__in=[rule[0] for rule in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("ragengine", "0006_answer_cache")]

    operations = [migrations.RunPython(seed, unseed)]
