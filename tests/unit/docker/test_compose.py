"""docker/compose.yaml and docker/Dockerfile checked against the code (no Docker here):
the mounted config passes ``config check``, ports, secrets, topics and hosts agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from monitor.config import Config, check_config

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / "docker"
CONFIG = DOCKER / "driftline.yaml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return YAML(typ="safe").load((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def config() -> Config:
    cfg, errors, _ = check_config(CONFIG)
    assert errors == [], [str(e) for e in errors]
    assert cfg is not None
    return cfg


def _env_names(config: object) -> set[str]:
    """Every environment variable an ``*_env`` field of the config names."""
    out: set[str] = set()

    def walk(node: object) -> None:
        if hasattr(type(node), "model_fields"):
            for name in type(node).model_fields:
                value = getattr(node, name)
                if name.endswith("_env") and isinstance(value, str):
                    out.add(value)
                else:
                    walk(value)
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)

    walk(config)
    return out


def _published(service: dict) -> dict[int, str]:
    """container port -> host binding, from "host_ip:host:container" strings."""
    out = {}
    for spec in service.get("ports", []):
        parts = str(spec).split(":")
        out[int(parts[-1])] = ":".join(parts[:-1])
    return out


def test_mounted_config_is_the_checked_one(compose: dict, config: Config) -> None:
    mounts = compose["services"]["driftline"]["volumes"]
    assert "./driftline.yaml:/etc/driftline/driftline.yaml:ro" in mounts
    command = compose["services"]["driftline"]["command"]
    assert command[command.index("-c") + 1] == "/etc/driftline/driftline.yaml"


def test_every_secret_variable_is_set_for_the_daemon(compose: dict, config: Config) -> None:
    env = compose["services"]["driftline"]["environment"]
    names = _env_names(config)
    assert names, "the compose config names its secrets through *_env fields"
    assert names <= set(env), f"missing in the driftline service: {names - set(env)}"
    # Secrets come from the operator's environment, never as values in the file.
    for name in names:
        assert str(env[name]).startswith("${"), name


def test_clickhouse_credentials_match(compose: dict, config: Config) -> None:
    ch = config.store.clickhouse
    assert ch is not None and ch.host == "clickhouse"
    server_env = compose["services"]["clickhouse"]["environment"]
    assert server_env["CLICKHOUSE_DB"] == ch.database
    assert server_env["CLICKHOUSE_USER"] == ch.user
    assert (
        server_env["CLICKHOUSE_PASSWORD"]
        == (compose["services"]["driftline"]["environment"][ch.password_env])
    )


def test_api_port_is_published_and_health_checked(compose: dict, config: Config) -> None:
    port = config.api.port
    assert config.api.host == "0.0.0.0", "the dashboard container must reach the API"
    daemon = compose["services"]["driftline"]
    assert port in _published(daemon)
    assert _published(daemon)[port].startswith("127.0.0.1:")
    assert f"127.0.0.1:{port}/healthz" in " ".join(daemon["healthcheck"]["test"])
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert f"127.0.0.1:{port}/healthz" in dockerfile
    assert re.search(rf"^EXPOSE .*\b{port}\b", dockerfile, re.M)
    dash_env = compose["services"]["dashboard"]["environment"]
    assert dash_env["DRIFTLINE_API_URL"] == f"http://driftline:{port}"


def test_dashboard_holds_no_write_token(compose: dict, config: Config) -> None:
    # Anyone reaching 8501 would act with it; people enter their own token instead.
    dash_env = compose["services"]["dashboard"]["environment"]
    assert config.api.token_env not in dash_env
    assert not any("TOKEN" in key for key in dash_env)
    assert config.api.token_env in compose["services"]["driftline"]["environment"]


def test_bootstrap_servers_point_at_the_kafka_service(compose: dict, config: Config) -> None:
    kafka = compose["services"]["kafka"]
    advertised = kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    internal = {
        part.split("//", 1)[1] for part in advertised.split(",") if part.startswith("PLAINTEXT:")
    }
    assert set(config.source.kafka.bootstrap_servers) <= internal
    for receiver in config.alerting.receivers:
        if receiver.type == "kafka":
            assert set(receiver.bootstrap_servers) <= internal
    assert compose["services"]["create-topics"]["environment"]["BOOTSTRAP"] in internal


def test_kafka_runs_in_kraft_mode(compose: dict) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in key for key in env)


def test_created_topics_are_the_configured_ones(compose: dict, config: Config) -> None:
    created = set(compose["services"]["create-topics"]["environment"]["TOPICS"].split())
    wanted = set(config.source.topics())
    wanted |= {r.topic for r in config.alerting.receivers if r.type == "kafka"}
    assert created == wanted


def test_daemon_starts_after_topics_and_clickhouse(compose: dict) -> None:
    deps = compose["services"]["driftline"]["depends_on"]
    assert deps["create-topics"]["condition"] == "service_completed_successfully"
    assert deps["clickhouse"]["condition"] == "service_healthy"
    assert set(compose["volumes"]) >= {"kafka-data", "clickhouse-data", "driftline-data"}


def test_image_runs_as_non_root_from_a_slim_base() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert froms and all("slim" in f for f in froms)
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "HEALTHCHECK" in dockerfile
