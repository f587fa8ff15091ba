"""A question's `Trace` as the playground shows it: plain rows and sentences, read from
the engine's own records (route, cache rule and lookups, budget plan, ranking, prompt,
models tried) and from the answer and its ledger row."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ragengine.models import KnowledgeSet
from ragengine.services.playground import PlaygroundResult

STAGE_ORDER = ("validate", "cache", "budget", "embed", "retrieve", "generate", "total")
SNIPPET_CHARS = 280


def trace_view(result: PlaygroundResult) -> dict[str, Any]:
    trace, answer = result.trace, result.answer
    return {
        "route": _route(trace.last("route"), result.scope.channel.knowledge_sets),
        "cache": _cache(trace),
        "budget": _budget(trace.last("budget"), result),
        "retrieval": _retrieval(trace.last("retrieval")),
        "prompt": _prompt(trace.last("prompt")),
        "models": _models(trace.last("generation"), answer),
        "timings": _timings(answer.timings_ms),
        "tokens_in": answer.tokens_in,
        "tokens_out": answer.tokens_out,
        "cost": answer.cost,
    }


def _route(record: dict | None, sets: tuple[str, ...] | None) -> dict[str, Any] | None:
    """Tier and chain; the sets by name, as the door scoped the question."""
    if record is None:
        return None  # refused while validating
    route = record["route"]
    return {
        "tier": route.tier.name,
        "arm": route.arm,
        "chain": [step.label for step in route.steps] or ["extractive (no model)"],
        "sets": "every set" if sets is None else (", ".join(sets) or "none"),
        "search_text": record["search_text"],
    }


def _cache(trace) -> dict[str, Any]:
    rule = trace.last("cache_rule")
    opened = trace.last("cache_open")
    hit = trace.last("cache_hit")
    stored = trace.last("cache_store")
    view: dict[str, Any] = {"rule": "", "ttl": "", "decision": "", "stored": None}
    if rule is not None:
        decision = rule["decision"]
        view["rule"] = (
            f"rule “{decision.rule.name}”" if decision.rule is not None else "the default TTL"
        )
        view["ttl"] = (
            "never cached" if decision.ttl_seconds is None else _duration(decision.ttl_seconds)
        )
        view["semantic"] = decision.semantic
    if opened is None:
        view["decision"] = "not reached (refused before the cache)"
    elif not opened["use_cache"]:
        view["decision"] = "off for this question (cache unticked)"
    elif opened["follow_up"]:
        view["decision"] = "skipped: a follow-up depends on the conversation"
    elif opened["cache"] is None:
        view["decision"] = f"never cached: {view['rule']} says so"
    elif hit is not None:
        h = hit["hit"]
        view["decision"] = (
            f"hit ({h.kind}, similarity {h.similarity:.3f}): saved {h.cost_saved:.6f}"
            + (f" — cached question “{h.question}”" if h.question else "")
        )
    else:
        view["decision"] = "miss: answered fresh"
    if stored is not None:
        view["stored"] = stored["stored"]
    return view


def _budget(record: dict | None, result: PlaygroundResult) -> dict[str, Any]:
    if record is None:
        return {
            "decision": "not needed (an exact cache hit, or refused before any spending)",
        }
    plan = record["plan"]
    view: dict[str, Any] = {"notices": list(plan.notices)}
    if plan.refusal:
        kind = "rate limit" if plan.rate_limited else "hard limit"
        view["decision"] = f"refused ({kind}): {plan.refusal}"
    elif plan.reservation is None:
        view["decision"] = "no ledger (internal caller)"
    else:
        state = plan.reservation.state
        view["decision"] = f"reserved {plan.reservation.amount:.6f} for the worst case"
        view["daily"] = _against(state.daily_spent, state.daily_budget)
        view["monthly"] = _against(state.monthly_spent, state.monthly_budget)
    view["chain"] = [step.label for step in plan.steps] or ["extractive (no model)"]
    view["asker"] = result.asker.display_name
    return view


def _against(spent: Decimal, budget: Decimal | None) -> str:
    if budget is None:
        return f"{spent:.6f} spent, no budget"
    return f"{spent:.6f} of {budget:.6f} spent"


def _retrieval(record: dict | None) -> dict[str, Any] | None:
    if record is None:
        return None
    ids = {hit.knowledge_set for hit in record["hits"] if str(hit.knowledge_set).isdigit()}
    names = {
        str(pk): name
        for pk, name in KnowledgeSet.objects.filter(pk__in=ids).values_list("pk", "name")
    }
    hits = []
    for rank, hit in enumerate(record["hits"], start=1):
        text = " ".join(hit.text.split())
        hits.append(
            {
                "rank": rank,
                "title": hit.metadata.get("title", "") or hit.document_id,
                "location": hit.metadata.get("location", ""),
                "set": names.get(str(hit.knowledge_set), hit.knowledge_set),
                "lexical": hit.lexical_score,
                "dense": hit.similarity,
                "fused": hit.score,
                "snippet": text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else ""),
            }
        )
    return {
        "hits": hits,
        "threshold": record["min_similarity"],
        "alpha": record["alpha"],
        "fusion": record["fusion"],
        "top_k": record["top_k"],
        "per_document": record.get("per_document"),
        "search_text": record["search_text"],
    }


def _prompt(record: dict | None) -> dict[str, Any] | None:
    if record is None or record["prompt"] is None:
        return None
    prompt = record["prompt"]
    return {
        "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
        "tokens": prompt.prompt_tokens,
        "used": len(prompt.used_hits),
        "dropped": prompt.dropped_hits,
        "truncated": prompt.truncated,
    }


def _models(record: dict | None, answer) -> list[dict[str, Any]]:
    if record is None:
        if answer.provider:
            return [{"model": answer.model or answer.provider, "outcome": "answered"}]
        return []
    generation = record["generation"]
    tried = [
        {"model": step.label, "outcome": f"failed: {error}"} for step, error in generation.failures
    ]
    if generation.step is not None and generation.result is not None:
        result = generation.result
        tried.append(
            {
                "model": generation.step.label,
                "outcome": f"answered as {result.model}, {result.tokens_in} tokens in, "
                f"{result.tokens_out} out (cap {generation.max_tokens}), "
                f"finish: {result.finish_reason or 'stop'}",
            }
        )
    else:
        tried.append({"model": "extractive", "outcome": "answered (every model failed)"})
    return tried


def _timings(timings_ms: dict[str, float]) -> list[dict[str, Any]]:
    names = [s for s in STAGE_ORDER if s in timings_ms]
    names += sorted(set(timings_ms) - set(names))
    total = timings_ms.get("total") or max(timings_ms.values(), default=0) or 1
    return [
        {"stage": n, "ms": timings_ms[n], "percent": min(100, round(100 * timings_ms[n] / total))}
        for n in names
    ]


def _duration(seconds: int) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} s"
