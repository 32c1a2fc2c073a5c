"""Shared pytest fixtures: the real Kafka broker and ClickHouse server, topics, artifacts.

The services come from ``scripts/services.sh``. ``scripts/test.sh`` starts them once and
exports ``DRIFTLINE_TEST_KAFKA`` / ``DRIFTLINE_TEST_CLICKHOUSE``; when those are unset (a
plain ``pytest tests/integration/...``) the first test that asks for a service starts a
private instance under a temporary directory and the session stops it at the end. Unit
tests that request none of these fixtures start nothing.

A service that cannot be started or reached fails the test with the reason: integration
tests never skip.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVICES_SCRIPT = REPO_ROOT / "scripts" / "services.sh"
KAFKA_ENV = "DRIFTLINE_TEST_KAFKA"
CLICKHOUSE_ENV = "DRIFTLINE_TEST_CLICKHOUSE"
# First start may fetch the Kafka jars with mvn; later starts take seconds.
START_TIMEOUT_S = 600
READY_TIMEOUT_S = 30.0
SERVICE_FIXTURES = {"kafka_bootstrap", "clickhouse_address", "topic_factory", "produce_json"}


def _raise_descriptor_limit() -> None:
    """Lift the soft open-files limit to the hard one for this test process.

    chDB 26.9 keeps three /proc/self/task/<tid>/* descriptors of every engine thread a
    ``connect()`` started after ``close()`` (about 9 per open and close), and the suite
    opens chDB stores hundreds of times in one process: it passes 2,000 open
    descriptors, past a 1,024 soft limit. A daemon opens its store once, so only the
    suite needs this.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


_raise_descriptor_limit()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration/ or using a real service as ``integration``.

    The path counts too because a fixture may reach a service through
    ``request.getfixturevalue``, which ``fixturenames`` does not show.
    """
    integration_dir = REPO_ROOT / "tests" / "integration"
    for item in items:
        uses_service = SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_service or integration_dir in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)


@dataclass
class _Services:
    """Addresses of a private services instance started for this session."""

    env: dict[str, str]
    services_dir: Path


class _ServiceLauncher:
    """Starts ``scripts/services.sh`` at most once per session, on first demand."""

    def __init__(self, base_dir: Path) -> None:
        self._base_dir = base_dir
        self._started: _Services | None = None
        self._failure: str | None = None

    def get(self) -> _Services:
        if self._failure is not None:
            pytest.fail(self._failure, pytrace=False)
        if self._started is None:
            self._started = self._start()
        return self._started

    def _start(self) -> _Services:
        services_dir = self._base_dir / "services"
        env = {**os.environ, "SERVICES_DIR": str(services_dir)}
        try:
            proc = subprocess.run(
                ["bash", str(SERVICES_SCRIPT), "start"],
                env=env,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            self._stop(services_dir)
            self._failure = f"scripts/services.sh start timed out after {exc.timeout}s"
            pytest.fail(self._failure, pytrace=False)
        if proc.returncode != 0:
            # services.sh prints the reason and the tail of the failing service's log.
            self._failure = (
                f"scripts/services.sh start failed (exit {proc.returncode}):\n"
                f"{proc.stderr[-4000:]}{proc.stdout[-1000:]}"
            )
            pytest.fail(self._failure, pytrace=False)
        values = _parse_env_file(services_dir / "env")
        logger.info("started test services in %s: %s", services_dir, values)
        return _Services(env=values, services_dir=services_dir)

    @staticmethod
    def _stop(services_dir: Path) -> None:
        env = {**os.environ, "SERVICES_DIR": str(services_dir)}
        subprocess.run(["bash", str(SERVICES_SCRIPT), "stop"], env=env, timeout=120, check=False)

    def stop(self) -> None:
        if self._started is not None:
            self._stop(self._started.services_dir)
            self._started = None


def _parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip()] = value.strip()
    return values


def _split_address(address: str, var: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        pytest.fail(f"{var}={address!r} is not host:port", pytrace=False)
    return host, int(port)


@pytest.fixture(scope="session")
def _service_launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ServiceLauncher]:
    launcher = _ServiceLauncher(tmp_path_factory.mktemp("driftline-services"))
    yield launcher
    launcher.stop()


def _address_from(var: str, launcher: _ServiceLauncher) -> str:
    """The address from the environment, else from a private instance started now."""
    value = os.environ.get(var, "").strip()
    if value:
        return value
    started = launcher.get()
    if var not in started.env:
        pytest.fail(f"scripts/services.sh wrote no {var} line", pytrace=False)
    return started.env[var]


@pytest.fixture(scope="session")
def kafka_bootstrap(_service_launcher: _ServiceLauncher) -> str:
    """Bootstrap address ``host:port`` of a reachable Kafka broker."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    address = _address_from(KAFKA_ENV, _service_launcher)
    _split_address(address, KAFKA_ENV)
    try:
        admin = KafkaAdminClient(bootstrap_servers=address, request_timeout_ms=10_000)
        try:
            admin.list_topics()
        finally:
            admin.close()
    except (KafkaError, OSError) as exc:
        pytest.fail(f"Kafka at {address} is not reachable: {exc!r}", pytrace=False)
    return address


@pytest.fixture(scope="session")
def clickhouse_address(_service_launcher: _ServiceLauncher) -> tuple[str, int]:
    """``(host, native_port)`` of a reachable ClickHouse server."""
    from clickhouse_driver import Client
    from clickhouse_driver.errors import Error as ClickHouseError

    host, port = _split_address(_address_from(CLICKHOUSE_ENV, _service_launcher), CLICKHOUSE_ENV)
    client = Client(host=host, port=port, connect_timeout=10, send_receive_timeout=30)
    try:
        client.execute("SELECT 1")
    except (ClickHouseError, OSError, EOFError) as exc:
        pytest.fail(f"ClickHouse at {host}:{port} is not reachable: {exc!r}", pytrace=False)
    finally:
        client.disconnect()
    return host, port


def _safe_name(text: str, limit: int = 80) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:limit] or "test"


@pytest.fixture
def topic_factory(
    kafka_bootstrap: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., str]]:
    """Create uniquely named topics; ``make(partitions=3, prefix=None) -> name``.

    Each call creates a topic named after the test plus a random suffix and returns once
    every partition has a leader, so producers and consumers can use it at once.
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10_000)

    def make(partitions: int = 3, prefix: str | None = None) -> str:
        base = _safe_name(prefix or request.node.name, limit=120)
        name = f"{base}-{uuid.uuid4().hex[:10]}"
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        _wait_topic_ready(admin, name, partitions)
        return name

    yield make
    admin.close()


def _wait_topic_ready(admin: Any, name: str, partitions: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    last: object = None
    while time.monotonic() < deadline:
        try:
            described = admin.describe_topics([name])
        except Exception as exc:  # noqa: BLE001 - metadata may lag creation; keep polling
            last = exc
        else:
            last = described
            parts = described[0].get("partitions", []) if described else []
            if (
                described
                and described[0].get("error_code", 0) == 0
                and len(parts) == partitions
                and all(p.get("leader_id", p.get("leader", -1)) >= 0 for p in parts)
            ):
                return
        time.sleep(0.2)
    pytest.fail(f"topic {name} not ready after {READY_TIMEOUT_S}s: {last!r}", pytrace=False)


Message = dict[str, Any] | bytes | str
KeyArg = str | bytes | Callable[[Message], str | bytes | None] | None


def _to_bytes(value: str | bytes | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return value.encode("utf-8")


def _encode(message: Message) -> bytes:
    if isinstance(message, bytes):
        return message
    if isinstance(message, str):
        return message.encode("utf-8")
    return json.dumps(message, separators=(",", ":")).encode("utf-8")


@pytest.fixture(scope="session")
def _producer(kafka_bootstrap: str) -> Iterator[Any]:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    yield producer
    producer.close(timeout=10)


@pytest.fixture
def produce_json(_producer: Any) -> Callable[..., list[Any]]:
    """Produce messages and flush; ``produce(topic, messages, key=None, partition=None)``.

    Dicts are sent as compact JSON, ``str`` as UTF-8, ``bytes`` unchanged (for malformed
    input). ``key`` is one key for all messages or a function of the message. Returns the
    kafka-python ``RecordMetadata`` of every message (topic, partition, offset), in order.
    """

    def produce(
        topic: str,
        messages: Sequence[Message],
        key: KeyArg = None,
        partition: int | None = None,
    ) -> list[Any]:
        futures = []
        for message in messages:
            k = key(message) if callable(key) else key
            futures.append(
                _producer.send(topic, value=_encode(message), key=_to_bytes(k), partition=partition)
            )
        _producer.flush(timeout=30)
        return [f.get(timeout=30) for f in futures]

    return produce


@pytest.fixture
def tmp_output(request: pytest.FixtureRequest) -> Path:
    """A fresh ``test-output/<test name>/`` folder for artifacts people may want to look at."""
    path = REPO_ROOT / "test-output" / _safe_name(request.node.name, limit=150)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
