"""An upload ingested by a real django-q2 worker process (`manage.py qcluster`, the ORM
broker, a SQLite file) that is killed with SIGKILL while it embeds: the document stays
in progress, the stale sweep queues it again, and a restarted worker finishes it.

Embeddings come from a local OpenAI-compatible server that answers each request after
0.3 s, so the export's 40 records take long enough to kill the worker in the middle."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser.web_server import server_env
from tests.ragengine.evaluation.test_worker_process import django, start_worker, stop, wait_for

pytestmark = pytest.mark.slow

RECORDS = 40
DIMENSION = 8
DELAY_S = 0.3


class _SlowEmbeddings(BaseHTTPRequestHandler):
    """POST /v1/embeddings: a deterministic vector per input, after DELAY_S."""

    stopping: threading.Event

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.stopping.wait(DELAY_S)
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(text)}
            for i, text in enumerate(body["input"])
        ]
        payload = json.dumps(
            {"object": "list", "data": data, "model": body["model"], "usage": {}}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255 + 0.01 for b in digest[:DIMENSION]]


@pytest.fixture
def embeddings_url():
    stopping = threading.Event()
    handler = type("Handler", (_SlowEmbeddings,), {"stopping": stopping})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    stopping.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def setup(tmp_path, embeddings_url):
    env = server_env()
    env.update(
        ARANDU_DATA_DIR=str(tmp_path / "data"),
        ARANDU_Q_WORKERS="1",
        ARANDU_EMBEDDER="openai",
        ARANDU_EMBEDDER_MODEL="text-embedding-3-small",
        ARANDU_EMBEDDER_DIMENSION=str(DIMENSION),
        ARANDU_EMBEDDER_URL=embeddings_url,
        ARANDU_EMBEDDER_API_KEY_ENV="ARANDU_TEST_OPENAI_API_KEY",
        ARANDU_TEST_OPENAI_API_KEY="sk-test-fake-key",
    )
    django(
        env,
        "from django.core.management import call_command; "
        "call_command('migrate', interactive=False, verbosity=0)",
    )
    return env, tmp_path / "data" / "arandu.sqlite3", tmp_path


def rows(db, sql: str, *args) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, args).fetchall()


def test_a_worker_killed_mid_ingestion_is_swept_and_a_new_worker_finishes(setup):
    env, db, tmp = setup
    export = "\n".join(
        json.dumps({"id": f"r{i}", "text": f"Room {i} is on floor {i % 7}, wing {i % 3}."})
        for i in range(RECORDS)
    )
    out = django(
        env,
        "from ragengine.services.knowledge import knowledge_set_get_or_create; "
        "from ragengine.services.document_upload import document_upload; "
        "doc = document_upload(knowledge_set=knowledge_set_get_or_create(name='rooms'), "
        f"filename='rooms.jsonl', content={export.encode()!r}); print(doc.pk, doc.status)",
    )
    export_id, status = out.split()[-2:]
    assert status == "queued"  # a real broker: the worker takes it

    def export_row() -> sqlite3.Row:
        return rows(db, "SELECT * FROM ragengine_document WHERE id = ?", int(export_id))[0]

    def ready_records() -> int:
        return rows(
            db,
            "SELECT COUNT(*) FROM ragengine_document WHERE parent_id = ? AND status = 'ready'",
            int(export_id),
        )[0][0]

    log = tmp / "worker.log"
    worker = start_worker(env, log)
    try:
        wait_for(lambda: ready_records() >= 3, timeout=240, what="records ingested", log=log)
    finally:
        stop(worker, signal.SIGKILL)  # the whole worker, without a chance to clean up
    killed = export_row()
    assert killed["status"] == "embedding" and ready_records() < RECORDS
    assert killed["ingest_attempts"] == 1

    # Not stale yet: the sweep leaves a document that may still be worked on alone.
    sweep = "from ragengine.tasks import documents_sweep_task; print(documents_sweep_task())"
    assert django(env, sweep).split()[-1] == "0"
    # ARANDU_INGEST_STALE_MINUTES later (default 30) the sweep finds it and queues it again.
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE ragengine_document SET updated_at = '2020-01-01 00:00:00' "
            "WHERE status IN ('queued', 'parsing', 'embedding')"
        )
    assert int(django(env, sweep).split()[-1]) >= 1
    assert export_row()["status"] == "queued"

    log = tmp / "worker-2.log"
    worker = start_worker(env, log)
    try:
        wait_for(lambda: export_row()["status"] == "ready", timeout=240, what="ready", log=log)
    finally:
        stop(worker)
    done = export_row()
    assert json.loads(done["metadata"])["records"] == RECORDS
    assert done["ingest_attempts"] == 2 and done["error"] == ""
    assert ready_records() == RECORDS
    assert (
        rows(
            db,
            "SELECT COUNT(*) FROM ragengine_document "
            "WHERE status IN ('queued', 'parsing', 'embedding')",
        )[0][0]
        == 0
    )
    chunks = rows(
        db,
        "SELECT COUNT(*) FROM ragengine_chunk c JOIN ragengine_document d ON c.document_id = d.id "
        "WHERE d.parent_id = ?",
        int(export_id),
    )[0][0]
    assert chunks == RECORDS
