"""deploy/kubernetes/: every manifest validates against the Kubernetes API schemas
(kubernetes-validate ships them: no download), strictly (an unknown field fails); web is
probed on /healthz and /readyz; secrets are only referenced, never written here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))

try:
    import kubernetes_validate
    from kubernetes_validate.utils import ValidationError
except ImportError:  # pragma: no cover - requirements-dev.txt installs it
    kubernetes_validate = None
needs_validator = pytest.mark.skipif(
    kubernetes_validate is None and not os.environ.get("CI"),
    reason="kubernetes-validate is not installed (pip install -r requirements-dev.txt)",
)


def resources() -> list[dict]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_name(kind: str, name: str) -> dict:
    return next(r for r in resources() if r["kind"] == kind and r["metadata"]["name"] == name)


def containers(resource: dict) -> list[dict]:
    return resource["spec"]["template"]["spec"]["containers"]


@needs_validator
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_strictly(path):
    for resource in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(resource, kubernetes_validate.utils.latest_version(), True)


@needs_validator
def test_the_validator_rejects_a_broken_manifest():
    broken = by_name("Deployment", "arandu-web")
    broken["spec"]["replica"] = 2  # a typo of `replicas`
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.utils.latest_version(), True)


def test_web_is_probed_on_healthz_and_readyz_and_served_by_a_service():
    web = containers(by_name("Deployment", "arandu-web"))[0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    service = by_name("Service", "arandu-web")
    assert (
        service["spec"]["selector"]
        == by_name("Deployment", "arandu-web")["spec"]["selector"]["matchLabels"]
    )
    # the probe's Host is one the app accepts
    allowed = by_name("ConfigMap", "arandu-config")["data"]["DJANGO_ALLOWED_HOSTS"].split(",")
    host = {h["name"]: h["value"] for h in web["readinessProbe"]["httpGet"]["httpHeaders"]}
    assert host["Host"] in allowed


def test_worker_and_bots_have_liveness_probes():
    worker = containers(by_name("Deployment", "arandu-worker"))[0]
    assert worker["livenessProbe"]["exec"]["command"][-2:] == ["probe", "worker"]
    for bot in ("arandu-slackbot", "arandu-discordbot"):
        deployment = by_name("Deployment", bot)
        assert deployment["spec"]["replicas"] == 1  # one gateway connection per token
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        assert containers(deployment)[0]["livenessProbe"]["exec"]["command"][-1] == "database"


def test_secrets_are_referenced_never_written():
    assert not [r for r in resources() if r["kind"] == "Secret"]
    for resource in resources():
        if resource["kind"] in ("Deployment", "Job"):
            for container in containers(resource):
                refs = [e for e in container["envFrom"] if "secretRef" in e]
                assert refs == [{"secretRef": {"name": "arandu-secrets"}}]
                assert "env" not in container  # no value set inline
    config = by_name("ConfigMap", "arandu-config")["data"]
    assert not [k for k in config if "SECRET" in k or "PASSWORD" in k or k.endswith("_KEY")]
