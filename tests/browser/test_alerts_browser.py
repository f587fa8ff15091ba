"""The done-when of alerts, in real processes: `manage.py serve` (gunicorn + the django-q2
worker) with a stub model and the fake Slack Web API on loopback. An admin makes a
"provider circuit open" rule in the browser; the stub goes down while another process
asks questions; the worker's every-minute evaluation posts ONE alert to the fake Slack
channel; the stub comes back and ONE "resolved" follows. Screenshots land in
tests/browser/artifacts/."""

from __future__ import annotations

import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.botcore.slack.fake_slack import FakeSlack
from tests.browser.web_server import server_env
from tests.ragengine.llm.replay_server import ReplayServer, Reply

ROOT = Path(__file__).resolve().parents[2]
CHAT = "/v1/chat/completions"
EVALUATION_WAIT_S = 240  # the schedule runs every minute; a busy machine may lag
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage_shell(env: dict[str, str], code: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, check=True, timeout=300, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout


ASK = """
from ragengine.ask_types import Channel
from ragengine.services.ask import ask
from ragengine.services.members import member_for_cli
from ragengine.models import Tier
member = member_for_cli()
member.tier = Tier.objects.get(name="Stubbed")
member.save()
for n in range({n}):
    print("mode:", ask(member=member, question=f"How many vacation days do I get? ({{n}})",
                       channel=Channel(platform="cli")).mode)
"""


@pytest.fixture
def live(tmp_path):
    """Stub model, fake Slack, and `serve` pointed at them. Yields (base, password, stub,
    slack, env)."""
    password = secrets.token_urlsafe(12)
    env = server_env()
    with ReplayServer() as stub:
        slack = FakeSlack().start()
        env.update(
            ARANDU_DATA_DIR=str(tmp_path / "data"),
            ARANDU_ADMIN_PASSWORD=password,
            ARANDU_CACHE_DEFAULT_TTL="0",
            ARANDU_TEST_OPENAI_API_KEY="sk-test-fake-key",
            SLACK_API_URL=slack.api_url,
            SLACK_BOT_TOKEN="xoxb-test-token",  # no app token: no bot process, posting only
        )
        (tmp_path / "docs").mkdir()
        source = ROOT / "examples" / "handbook" / "employee-handbook.md"
        (tmp_path / "docs" / source.name).write_bytes(source.read_bytes())
        manage_shell(
            env,
            "; ".join(
                [
                    "from django.core.management import call_command as run",
                    "from ragengine.models import CacheRule, ProviderEndpoint, Tier, TierModel",
                    "run('migrate', interactive=False, verbosity=0)",
                    "run('ensure_admin')",
                    f"run('ingest', {str(tmp_path / 'docs')!r}, knowledge_set='handbook')",
                    "CacheRule.objects.update(enabled=False)",
                    "e = ProviderEndpoint.objects.create(name='stub', kind='openai', "
                    f"base_url='{stub.url}/v1', api_key_env='ARANDU_TEST_OPENAI_API_KEY', "
                    "max_retries=0, timeout_s=5)",
                    "t = Tier.objects.create(name='Stubbed', semantic_cache_enabled=False)",
                    "TierModel.objects.create(tier=t, position=0, endpoint=e, model='gpt-4o-mini')",
                ]
            ),
        )
        port = free_port()
        log = tmp_path / "serve.log"
        with log.open("w") as out:
            serve = subprocess.Popen(
                [sys.executable, "manage.py", "serve", "--address", f"127.0.0.1:{port}"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                        break
                except OSError:
                    assert serve.poll() is None and time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            yield base, password, stub, slack, env
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=60)
            slack.stop()


def modes(env: dict[str, str], n: int) -> list[str]:
    """The answer modes of `n` questions asked in one process (one set of breakers)."""
    lines = manage_shell(env, ASK.format(n=n)).splitlines()
    return [line.split()[1] for line in lines if line.startswith("mode: ")]


def posts(slack: FakeSlack) -> list[str]:
    return [c.body["blocks"][0]["text"]["text"] for c in slack.calls("chat.postMessage")]


def test_the_stub_model_down_then_back_is_one_alert_and_one_resolved(live, browser, screenshots):
    base, password, stub, slack, env = live
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(base + "/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(base + "/admin/")

    # The rule, with its Slack destination, made as an admin makes it.
    page.locator("#nav-sidebar-apps").get_by_role("link", name="Alert rules").click()
    page.wait_for_url("**/alertrule/")
    page.goto(base + "/admin/ragengine/alertrule/add/")
    page.fill("#id_name", "Model down")
    page.select_option("#id_kind", "circuit_open")
    page.fill("#id_provider", "stub")
    page.fill("#id_cooldown_minutes", "30")
    page.select_option("#id_destinations-0-channel", "slack")
    page.fill("#id_destinations-0-target", "C0ALERTS")
    page.screenshot(path=screenshots / "alerts-01-new-rule.png", full_page=True)
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url("**/alertrule/")
    assert "Slack: C0ALERTS" in page.content()
    page.screenshot(path=screenshots / "alerts-02-rules.png")

    # The stub answers, then goes down: five failures open its circuit.
    stub.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    assert modes(env, 1) == ["generated"]
    stub.script(CHAT, Reply(status=503, body={"error": {"message": "down"}}))
    assert set(modes(env, 6)) == {"extractive"}
    assert slack.wait_for(lambda s: len(s.calls("chat.postMessage")) >= 1, EVALUATION_WAIT_S)
    assert "*[FIRING] Model down*" in posts(slack)[0]

    # Back up: the next question's call succeeds, and the worker resolves the incident.
    stub.script(CHAT, Reply.from_fixture("openai_chat_completion"))
    assert modes(env, 1) == ["generated"]
    assert slack.wait_for(lambda s: len(s.calls("chat.postMessage")) >= 2, EVALUATION_WAIT_S)
    page.goto(base + "/admin/ragengine/alertevent/")
    page.screenshot(path=screenshots / "alerts-03-events.png")
    page.locator("#result_list tbody a").first.click()
    page.wait_for_url("**/change/")
    page.screenshot(path=screenshots / "alerts-04-event.png", full_page=True)

    firing, resolved = posts(slack)
    assert "*[FIRING] Model down*" in firing and "*[RESOLVED] Model down*" in resolved
    assert (slack.calls("chat.postMessage")[0].body["channel"]) == "C0ALERTS"
