"""Every HTTP request gets one request id: the caller's X-Request-ID when sane, else a
new one; it is bound while the request runs and returned in the response."""

from __future__ import annotations

import logging

import pytest

from ragengine.request_context import sane_request_id


def test_a_sane_incoming_id_is_kept_and_returned(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="proxy-7f3a9c.01")
    assert response["X-Request-ID"] == "proxy-7f3a9c.01"


@pytest.mark.parametrize(
    "sent", ["", "   ", "has space", 'quote"', "new\nline", "x" * 65, "ünïcode", "-leading-dash"]
)
def test_an_insane_incoming_id_is_replaced(client, sent):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=sent)
    assert response["X-Request-ID"] != sent
    assert sane_request_id(response["X-Request-ID"]) == response["X-Request-ID"]


def test_a_long_sane_id_is_cut_to_what_the_ledger_keeps():
    assert sane_request_id("a" * 64) == "a" * 32


def test_each_request_gets_its_own_id(client):
    ids = {client.get("/healthz")["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.django_db
def test_log_lines_written_while_a_request_runs_carry_its_id(client, caplog):
    from adminsite.logging import RequestIdFilter

    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.WARNING):
        response = client.get(
            "/metrics", REMOTE_ADDR="192.0.2.1", HTTP_X_REQUEST_ID="req-metrics-refused"
        )
    assert response.status_code in (401, 403)
    (refused,) = [r for r in caplog.records if r.getMessage() == "metrics scrape refused"]
    assert refused.request_id == "req-metrics-refused"
    assert refused.door == "web"
