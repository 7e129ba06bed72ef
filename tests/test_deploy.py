"""The deployment files carry the essentials: replicas in HTTP mode, probes, secrets, PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
CREDENTIALS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SMTPCHECK_DATABASE_URL")


def kubernetes() -> dict[str, dict[str, Any]]:
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()))
    return {doc["kind"]: doc for doc in docs if doc}


def test_deployment_runs_replicas_in_http_mode_with_probes() -> None:
    deployment = kubernetes()["Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert "SLACK_APP_TOKEN" not in env  # Socket Mode would not spread over replicas
    port = container["ports"][0]
    assert port["containerPort"] == int(env["PORT"]["value"])
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
        assert container[probe]["httpGet"]["port"] in (port["name"], port["containerPort"])
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert {"cpu", "memory"} <= container["resources"]["limits"].keys()


def test_credentials_and_database_url_come_from_a_secret() -> None:
    container = kubernetes()["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    for name in CREDENTIALS:
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] and ref["key"] == name
        assert "value" not in env[name]
    text = (DEPLOY / "kubernetes.yaml").read_text()
    assert "xoxb-" not in text.replace("xoxb-...", "")  # no token in the file, only a placeholder


def test_pods_run_unprivileged() -> None:
    pod = kubernetes()["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    container = pod["containers"][0]["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]


def test_service_selects_the_pods_and_targets_the_http_port() -> None:
    docs = kubernetes()
    service, deployment = docs["Service"], docs["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in ("http", 3000)


def test_compose_runs_the_bot_over_postgres_with_healthchecks() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    postgres, bot = services["postgres"], services["smtpcheck"]
    assert postgres["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert bot["environment"]["SMTPCHECK_DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in bot["environment"]["SMTPCHECK_DATABASE_URL"]
    assert bot["environment"]["SLACK_APP_TOKEN"] == ""  # HTTP mode
    assert bot["env_file"] == ".env" or ".env" in bot["env_file"]
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])
    assert "pgdata" in compose["volumes"]


def test_pods_run_as_the_images_user() -> None:
    """runAsUser/runAsGroup/fsGroup are the Dockerfile's USER, so files and volumes agree."""
    dockerfile = (DEPLOY.parent / "Dockerfile").read_text()
    user = re.search(r"^USER (\d+):(\d+)$", dockerfile, re.M)
    assert user, "the Dockerfile's USER is numeric uid:gid"
    uid, gid = int(user.group(1)), int(user.group(2))
    pod = kubernetes()["Deployment"]["spec"]["template"]["spec"]["securityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"], pod["fsGroup"]) == (uid, gid, gid)
    container = kubernetes()["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}
