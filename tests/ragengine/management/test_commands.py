from __future__ import annotations

import builtins
import json
import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import EXAMPLES

pytestmark = pytest.mark.django_db


def run(*args, **kwargs) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **kwargs)
    return out.getvalue()


def run_failing(*args) -> tuple[str, str]:
    """Run a command that must end with status 1; its stdout and stderr."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(*args, stdout=out, stderr=err)
    assert raised.value.returncode == 1
    return out.getvalue(), err.getvalue()


def test_ingest_reports_progress_and_a_summary_with_reasons(embedder, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(EXAMPLES / "broken", broken)

    output, errors = run_failing("ingest", str(broken), "--knowledge-set", "scratch")

    assert "[1/3]" in output and "[3/3]" in output
    assert "Knowledge set 'scratch': 1 ingested, 0 unchanged, 2 failed." in output
    assert "failed: " in errors and "scanned-contract.pdf" in errors
    assert "empty" in errors.lower()

    again, _ = run_failing("ingest", str(broken), "--knowledge-set", "scratch")
    assert "0 ingested, 1 unchanged, 2 failed" in again


def test_ingest_names_each_refused_link_and_why(embedder, tmp_path):
    (tmp_path / "secret_key").write_text("TOPSECRET-KEY\n")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notes.md").write_text("# Notes\n\nThe office opens at nine.\n")
    (shared / "key.txt").symlink_to(tmp_path / "secret_key")

    output, errors = run_failing("ingest", str(shared), "--knowledge-set", "scratch")

    assert "1 ingested, 0 unchanged, 1 failed." in output
    refused = str(shared.resolve() / "key.txt")
    assert f"failed: {refused}: This is a link that points outside the folder being " in errors
    assert "TOPSECRET" not in run("ask", "What is the secret key?", "--knowledge-set", "scratch")


def test_ingest_missing_path_is_a_command_error(embedder, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run("ingest", str(tmp_path / "missing"))


def test_ask_json_prints_one_object_with_the_documented_keys(embedder, handbook_dir):
    run("ingest", str(handbook_dir), "--knowledge-set", "handbook")

    output = run("ask", "What is the minimum length for a password?", "--json")

    data = json.loads(output)
    assert data["mode"] == "extractive"
    assert "14 characters" in data["answer"]
    source = data["sources"][0]
    assert set(source) >= {"title", "location", "snippet", "score", "document_id"}
    assert isinstance(source["document_id"], int)
    assert data["timings_ms"]["total"] > 0


def test_ask_human_output_lists_sources_labelled_in_the_questions_language(embedder, handbook_dir):
    run("ingest", str(handbook_dir), "--knowledge-set", "handbook")
    output = run("ask", "Qual é a operadora do plano de saúde?", "--knowledge-set", "handbook")
    assert "SaúdeMais" in output
    assert "\nFontes:\n" in output and "Sources:" not in output and "[1]" in output

    output = run("ask", "How many vacation days do I get?", "--knowledge-set", "handbook")
    assert "25 working days" in output
    assert "\nSources:\n" in output and "Fontes:" not in output


def test_ask_human_output_labels_notes_in_the_questions_language(embedder, handbook_dir):
    run("ingest", str(handbook_dir), "--knowledge-set", "handbook")
    question = "Qual é a operadora do plano de saúde?"
    run("ask", question, "--knowledge-set", "handbook")

    again = run("ask", question, "--knowledge-set", "handbook")  # from the cache: a notice

    assert again.endswith("\nNotas:\n  Esta resposta vem do cache.\n")


def test_chat_keeps_the_thread_history(embedder, handbook_dir, monkeypatch):
    run("ingest", str(handbook_dir), "--knowledge-set", "handbook")
    lines = iter(
        ["Qual é o limite de hospedagem em viagens a trabalho?", "e nas capitais?", "exit"]
    )
    monkeypatch.setattr(builtins, "input", lambda prompt="": next(lines))

    output = run("chat")

    replies = output.split("arandu> ")[1:]
    assert len(replies) == 2
    assert "R$ 450" in replies[1]
