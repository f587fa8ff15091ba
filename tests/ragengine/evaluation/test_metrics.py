"""Metric functions against values computed by hand (and empty / not-applicable cases)."""

from __future__ import annotations

import math

import pytest

from ragengine.evaluation.metrics import (
    Aggregate,
    citation_precision,
    compare_metric,
    fact_check,
    hit_at_k,
    ks_drift,
    mean_of,
    ndcg_at_k,
    percentile,
    precision_at_k,
    recall_at_k,
    reciprocal_rank_at_k,
    refusal_correct,
    token_f1,
)

RANKED = ["x", "a", "x", "y", "b", "c"]  # "x" twice: two chunks of one document


class TestRetrieval:
    def test_hit_counts_distinct_documents_within_k(self):
        assert hit_at_k(RANKED, {"a"}, 1) == 0.0
        assert hit_at_k(RANKED, {"a"}, 2) == 1.0
        # distinct documents: top 3 is x, a, y (the second "x" chunk does not take a slot)
        assert hit_at_k(RANKED, {"b"}, 3) == 0.0
        assert hit_at_k(RANKED, {"b"}, 4) == 1.0

    def test_reciprocal_rank(self):
        assert reciprocal_rank_at_k(RANKED, {"a", "b"}, 5) == pytest.approx(1 / 2)
        assert reciprocal_rank_at_k(RANKED, {"b"}, 5) == pytest.approx(1 / 4)
        assert reciprocal_rank_at_k(RANKED, {"b"}, 3) == 0.0

    def test_precision_and_recall(self):
        # top 4 distinct: x, a, y, b -> 2 of 4 are expected; 2 of 3 expected found
        assert precision_at_k(RANKED, {"a", "b", "z"}, 4) == pytest.approx(2 / 4)
        assert recall_at_k(RANKED, {"a", "b", "z"}, 4) == pytest.approx(2 / 3)
        # k larger than the list: precision is still over k
        assert precision_at_k(["a"], {"a"}, 5) == pytest.approx(1 / 5)

    def test_ndcg_binary(self):
        # expected a (rank 2) and b (rank 4): DCG = 1/log2(3) + 1/log2(5);
        # ideal = 1/log2(2) + 1/log2(3)
        dcg = 1 / math.log2(3) + 1 / math.log2(5)
        ideal = 1 + 1 / math.log2(3)
        assert ndcg_at_k(RANKED, {"a", "b"}, 5) == pytest.approx(dcg / ideal)
        assert ndcg_at_k(["a", "b"], {"a", "b"}, 5) == pytest.approx(1.0)

    def test_ndcg_graded(self):
        # ranked a, x, b with gains a=3, b=1: DCG = 7/1 + 1/log2(4) = 7.5;
        # ideal = 7/1 + 1/log2(3) = 7.6309...
        assert ndcg_at_k(["a", "x", "b"], {"a": 3, "b": 1}, 3) == pytest.approx(
            7.5 / (7 + 1 / math.log2(3))
        )
        # the better document second is worse than first
        assert ndcg_at_k(["b", "a"], {"a": 3, "b": 1}, 2) < ndcg_at_k(
            ["a", "b"], {"a": 3, "b": 1}, 2
        )

    @pytest.mark.parametrize(
        "metric", [hit_at_k, reciprocal_rank_at_k, precision_at_k, recall_at_k, ndcg_at_k]
    )
    def test_no_expected_documents_is_not_applicable(self, metric):
        assert metric(RANKED, set(), 5) is None
        assert metric(RANKED, {"a": 0}, 5) is None  # zero gain is not relevant

    @pytest.mark.parametrize("metric", [hit_at_k, recall_at_k, ndcg_at_k])
    def test_nothing_retrieved_scores_zero(self, metric):
        assert metric([], {"a"}, 5) == 0.0

    def test_k_must_be_positive(self):
        with pytest.raises(ValueError):
            hit_at_k(RANKED, {"a"}, 0)


class TestAnswers:
    def test_fact_check_any_of_groups_accent_and_case_insensitive(self):
        check = fact_check(
            "Você tem direito a 25 DIAS ÚTEIS de férias [1].",
            [["25 dias úteis", "25 working days"], ["31 de março"], ["ferias"]],
        )
        assert check.found == ("25 dias úteis", "ferias")
        assert check.missed == ("31 de março",)
        assert check.recall == pytest.approx(2 / 3)

    def test_fact_check_matches_whole_words_only(self):
        assert fact_check("It costs 150 EUR.", [["15"]]).missed == ("15",)
        assert fact_check("It costs 15 EUR.", [["15"]]).found == ("15",)

    def test_fact_check_without_facts_is_not_applicable(self):
        assert fact_check("anything", []).recall is None
        assert fact_check("anything", [["", "  "]]).recall is None

    def test_citation_precision(self):
        assert citation_precision(["a", "b", "c"], ["a"]) == pytest.approx(1 / 3)
        assert citation_precision(["a", "a"], ["a", "z"]) == 1.0
        assert citation_precision([], ["a"]) is None
        assert citation_precision(["a"], []) is None

    def test_refusal(self):
        assert refusal_correct(refused=True, must_refuse=True)
        assert refusal_correct(refused=False, must_refuse=False)
        assert not refusal_correct(refused=True, must_refuse=False)
        assert not refusal_correct(refused=False, must_refuse=True)

    def test_token_f1(self):
        # pred tokens: 25 working days per year; ref: you get 25 working days
        # common = 3; P = 3/5, R = 3/5 -> F1 = 0.6
        assert token_f1("25 working days per year", "You get 25 working days") == pytest.approx(0.6)
        assert token_f1("The answer", "the answer") == 1.0  # articles and case ignored
        assert token_f1("nothing shared", "totally different") == 0.0
        assert token_f1("anything", "") is None
        assert token_f1("", "reference") == 0.0


class TestAggregates:
    def test_mean_skips_not_applicable_and_says_over_how_many(self):
        assert mean_of([1.0, None, 0.0, 0.5]) == Aggregate(value=0.5, n=3, total=4)
        assert mean_of([None, None]) == Aggregate(value=None, n=0, total=2)
        assert mean_of([]) == Aggregate(value=None, n=0, total=0)

    def test_percentile_linear_interpolation(self):
        values = [10, 20, 30, 40]
        assert percentile(values, 50) == pytest.approx(25.0)
        assert percentile(values, 95) == pytest.approx(38.5)  # 30 + 0.85 * 10
        assert percentile(values, 0) == 10
        assert percentile(values, 100) == 40
        assert percentile([7], 95) == 7
        assert percentile([], 50) is None
        with pytest.raises(ValueError):
            percentile(values, 101)


class TestComparisons:
    def test_verdicts_follow_the_threshold_and_direction(self):
        assert compare_metric(metric="m", before=0.8, after=0.9, threshold=0.05).verdict == (
            "improved"
        )
        assert compare_metric(metric="m", before=0.8, after=0.7, threshold=0.05).verdict == (
            "regressed"
        )
        assert compare_metric(metric="m", before=0.8, after=0.82, threshold=0.05).verdict == (
            "unchanged"
        )
        latency = compare_metric(
            metric="p95_ms", before=100, after=200, threshold=20, higher_is_better=False
        )
        assert latency.verdict == "regressed"
        assert compare_metric(metric="m", before=None, after=0.5, threshold=0).verdict == (
            "not comparable"
        )

    def test_ks_drift(self):
        same = ks_drift([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6])
        assert same.statistic == 0.0 and same.p_value == pytest.approx(1.0) and not same.drifted
        # fully separated samples of 6: exact p = 2 / C(12, 6) = 2 / 924
        apart = ks_drift([1, 2, 3, 4, 5, 6], [11, 12, 13, 14, 15, 16])
        assert apart.statistic == 1.0
        assert apart.p_value == pytest.approx(2 / 924)
        assert apart.drifted

    def test_ks_drift_needs_enough_values(self):
        small = ks_drift([1, 2], [100, 200, 300, 400, 500])
        assert small.statistic is None and not small.drifted
        assert "at least 5" in small.reason
