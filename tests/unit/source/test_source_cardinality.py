"""Caps on the models and features messages may create: dead letters past the cap."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from monitor import metrics
from monitor.ingest.ingestor import Ingestor
from monitor.ingest.settings import IngestSettings
from monitor.records import Batch, DeadLetter, Event, Label
from monitor.source.cardinality import CardinalityCaps
from monitor.source.decode import Decoder, reason_code
from monitor.source.reasons import Reject
from monitor.source.sampling import Sampler
from monitor.source.settings import SamplingSettings, SourceSettings


def decoder(max_models: int = 2, max_features_per_model: int = 3) -> Decoder:
    return Decoder(
        SourceSettings.model_validate(
            {
                "events": [{"topic": "ev"}],
                "labels": [{"topic": "lab"}],
                "limits": {
                    "max_models": max_models,
                    "max_features_per_model": max_features_per_model,
                },
            }
        )
    )


def event(model: str, *names: str, i: int = 0) -> bytes:
    return json.dumps(
        {
            "event_id": f"e-{i}",
            "model": model,
            "ts": 1_700_000_000,
            "features": {name: 1.0 for name in names},
        }
    ).encode()


def label(model: str) -> bytes:
    return json.dumps({"event_id": "e", "model": model, "label": 1}).encode()


def test_a_new_model_past_max_models_is_dead_lettered_and_known_ones_flow() -> None:
    dec = decoder(max_models=2)
    assert isinstance(dec.decode("ev", 0, 0, event("a", "x")), Event)
    assert isinstance(dec.decode("lab", 0, 0, label("b")), Label)  # a label creates one too
    out = dec.decode("ev", 0, 1, event("c", "x"))
    assert isinstance(out, DeadLetter)
    assert out.reason == (
        "too_many_models: model 'c' is new and source.limits.max_models (2) models are "
        "known already"
    )
    out = dec.decode("lab", 0, 1, label("d"))
    assert isinstance(out, DeadLetter) and reason_code(out.reason) == "too_many_models"
    for model in ("a", "b"):
        assert isinstance(dec.decode("ev", 0, 2, event(model, "x")), Event)
        assert isinstance(dec.decode("lab", 0, 2, label(model)), Label)
    assert dec.caps.models == 2


def test_features_past_max_features_per_model_are_dead_lettered() -> None:
    dec = decoder(max_models=3, max_features_per_model=3)
    assert isinstance(dec.decode("ev", 0, 0, event("a", "x", "y")), Event)
    assert isinstance(dec.decode("ev", 0, 1, event("a", "y", "z")), Event)  # 3 now
    out = dec.decode("ev", 0, 2, event("a", "x", "w", "v"))
    assert isinstance(out, DeadLetter)
    assert out.reason == (
        "too_many_model_features: model 'a' has 3 features and this message adds 2 "
        "(e.g. 'w'); source.limits.max_features_per_model is 3"
    )
    # a rejected message admitted nothing; known features and other models still flow
    assert isinstance(dec.decode("ev", 0, 3, event("a", "z", "x")), Event)
    assert isinstance(dec.decode("ev", 0, 4, event("b", "w", "v", "u")), Event)
    # a new model whose first message is already too wide is not admitted either
    out = dec.decode("ev", 0, 5, event("c", "1", "2", "3", "4"))
    assert isinstance(out, DeadLetter) and reason_code(out.reason) == "too_many_model_features"
    assert dec.caps.models == 2


def test_known_pairs_count_and_are_never_refused() -> None:
    caps = CardinalityCaps(max_models=2, max_features_per_model=2)
    caps.know([("a", "x"), ("a", "y"), ("a", "z"), ("b", "x"), ("c", "x")])  # over both caps
    caps.admit("a", ["x", "y", "z"])
    caps.admit("c", ["x"])
    with pytest.raises(Reject, match="too_many_models"):
        caps.admit("d")
    with pytest.raises(Reject, match="too_many_model_features"):
        caps.admit("b", ["x", "y", "z"])
    caps.admit("b", ["y"])  # room for one more feature of b


class _Source:
    paused = False

    def __init__(self, records: list[Any]) -> None:
        self.records = records

    def poll(self, timeout_ms: int | None = None, max_records: int | None = None) -> list[Any]:
        out, self.records = self.records, []
        return out

    def commit(self, offsets: dict) -> dict:
        return dict(offsets)

    def take_skipped(self) -> list:
        return []

    def has_skipped(self) -> bool:
        return False


class _Store:
    """Answers the known (model, feature) query as the store's model_features would."""

    def __init__(self, known: list[tuple[str, str]]) -> None:
        self.known = known
        self.queries: list[str] = []
        self.batches: list[Batch] = []

    def query(self, sql: str, params: Any = None) -> list[tuple]:
        self.queries.append(sql)
        return list(self.known)

    def write_batch(self, batch: Batch) -> None:
        self.batches.append(batch)


def _counter(limit: str) -> float:
    value = metrics.CARDINALITY_REJECTED.labels(limit)._value.get()  # noqa: SLF001
    return float(value)


def test_the_ingest_loop_seeds_the_caps_from_the_store_and_counts_rejections() -> None:
    import threading

    records = [
        SimpleNamespace(topic="ev", partition=0, offset=i, timestamp=0, value=v)
        for i, v in enumerate(
            [event("known", "x"), event("new", "x"), event("known", "y", "z", "w")]
        )
    ]
    store = _Store([("known", "x"), ("old", "x")])  # two models known from earlier runs
    dec = decoder(max_models=2, max_features_per_model=3)
    ingestor = Ingestor(
        _Source(records),  # type: ignore[arg-type]
        dec,
        Sampler(SamplingSettings()),
        store,  # type: ignore[arg-type]
        IngestSettings(batch_max_wait_ms=0),
        threading.Event(),
    )
    before = (_counter("max_models"), _counter("max_features_per_model"))
    assert ingestor.step() == 3
    (batch,) = store.batches
    assert [e.model for e in batch.events] == ["known"]
    assert sorted(reason_code(d.reason) for d in batch.dead_letters) == [
        "too_many_model_features",
        "too_many_models",
    ]
    assert _counter("max_models") == before[0] + 1
    # /metrics gets series only for admitted models: the refused one has none
    labelled = {s.labels.get("model") for fam in metrics.EVENTS.collect() for s in fam.samples}
    assert "known" in labelled and "new" not in labelled
    assert _counter("max_features_per_model") == before[1] + 1
    assert len(store.queries) == 1 and "model_features" in store.queries[0]
    ingestor.step()  # nothing new; the store is asked again only after the refresh interval
    assert len(store.queries) == 1
