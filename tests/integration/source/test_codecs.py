"""Every compression codec a Kafka producer may use decodes, from Python and from librdkafka.

One test per codec and producer: kafka-python's own producer (``compression_type``) and
kcat, the librdkafka command-line producer (``-z``), whose batches are shaped like those of
the JVM and C clients. A spy on kafka-python's codec functions proves the batches really
were compressed with that codec (a producer silently falling back to no compression would
prove nothing).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator

import pytest
from kafka import KafkaProducer
from kafka.record import default_records
from source_live import event_message, read_records, source_settings, unique_group

from monitor.source.decode import Decoder

pytestmark = pytest.mark.timeout(180)

CODECS = ["gzip", "snappy", "lz4", "zstd"]
COUNT = 300


@pytest.fixture
def codec_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """How often each codec's decode function ran in this process."""
    calls = dict.fromkeys(CODECS, 0)
    for codec in CODECS:
        name = f"{codec}_decode"
        real = getattr(default_records, name)

        def counted(payload, _real=real, _codec=codec):  # type: ignore[no-untyped-def]
            calls[_codec] += 1
            return _real(payload)

        monkeypatch.setattr(default_records, name, counted)
    yield calls


def _messages() -> list[bytes]:
    return [json.dumps(event_message(i)).encode() for i in range(COUNT)]


def _produce_python(bootstrap: str, topic: str, codec: str) -> None:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, compression_type=codec, linger_ms=50, acks="all"
    )
    try:
        futures = [producer.send(topic, value=m) for m in _messages()]
        producer.flush(timeout=30)
        for f in futures:
            f.get(timeout=30)
    finally:
        producer.close(timeout=10)


def _produce_kcat(bootstrap: str, topic: str, codec: str) -> None:
    kcat = shutil.which("kcat")
    # scripts/services.sh installs kcat; without it this test cannot show anything.
    assert kcat, "kcat is not installed (scripts/services.sh start installs Debian's kcat)"
    subprocess.run(
        [kcat, "-P", "-b", bootstrap, "-t", topic, "-z", codec, "-X", "linger.ms=50"],
        input=b"\n".join(_messages()) + b"\n",
        check=True,
        timeout=60,
        capture_output=True,
    )


PRODUCERS: dict[str, Callable[[str, str, str], None]] = {
    "kafka-python": _produce_python,
    "kcat": _produce_kcat,
}


@pytest.mark.parametrize("producer", sorted(PRODUCERS))
@pytest.mark.parametrize("codec", CODECS)
def test_compressed_batches_decode(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    codec_calls: dict[str, int],
    codec: str,
    producer: str,
) -> None:
    topic = topic_factory(partitions=1)
    PRODUCERS[producer](kafka_bootstrap, topic, codec)
    s = source_settings(kafka_bootstrap, unique_group(f"codec-{codec}"), topic)
    records = read_records(s, COUNT)
    batch = Decoder(s).decode_records(records)
    assert not batch.dead_letters
    assert sorted(e.event_id for e in batch.events) == sorted(f"e-{i}" for i in range(COUNT))
    assert codec_calls[codec] >= 1, f"no {codec} batch was decoded: was it compressed?"
    assert {c: n for c, n in codec_calls.items() if n and c != codec} == {}
