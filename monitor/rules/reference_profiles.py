"""Reference datasets: load a file once, profile it, keep the profile in the store.

``driftline reference add --model fraud --name training train.parquet`` reads Parquet,
CSV or JSONL (flat columns, or the message shape with a ``features`` object), splits the
columns into numeric and categorical exactly as the store does (booleans and strings are
categories), and stores one profile per (model, name):

* numeric features: sorted reference values
  (:class:`monitor.stats.numeric_profile.NumericProfile`), thinned to at most ``sample_size`` values per feature by taking evenly spaced order
  statistics, which keeps the empirical distribution (every quantile within 1/sample_size);
* categorical features: categories and counts (:class:`CategoricalProfile`);
* the predictions (a ``prediction`` column) as one more numeric profile;
* each column's kind (for schema rules) and missing rate;
* a seeded sample of whole rows (features, prediction, label) in file order, for the
  multivariate and estimated_performance kinds (:mod:`monitor.rules.joint`);
* the rows in time order (``--timestamp-column``) or file order (``--ordered``), numeric
  values and category codes, that calibrated thresholds learn from
  (:mod:`monitor.rules.calibration_sample`).

Evaluations then only pay for the current window; the decoded profile is cached in memory
per (model, name, created_at).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitor.rules.calibration_sample import DEFAULT_SAMPLE_ROWS, CalibrationSample
from monitor.rules.calibration_sample import sample_frame as calibration_sample
from monitor.rules.calibration_store import StoredCalibrations
from monitor.rules.joint import JointSample, sample_frame
from monitor.stats.categorical_profile import CategoricalProfile
from monitor.stats.numeric_profile import NumericProfile
from monitor.store import schema
from monitor.store.interface import Store

log = logging.getLogger(__name__)

# Columns of the message shape that are not features.
META_COLUMNS = frozenset({"event_id", "model", "model_version", "ts", "latency_ms", "label"})
PREDICTION = "prediction"


@dataclass
class ReferenceProfile:
    """Everything rules need from one reference dataset."""

    n_rows: int
    kinds: dict[str, str]  # feature -> "numeric" | "categorical"
    missing_rate: dict[str, float]
    numeric: NumericProfile | None = None
    categorical: CategoricalProfile | None = None
    prediction: NumericProfile | None = None
    # a row sample (features, prediction, label) for kinds that need whole rows
    rows: JointSample | None = None
    # the rows in time (or file) order that calibrated thresholds are learned from
    calibration: CalibrationSample | None = None
    source: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "n_rows": self.n_rows,
                "kinds": self.kinds,
                "missing_rate": self.missing_rate,
                "numeric": self.numeric.to_dict() if self.numeric else None,
                "categorical": self.categorical.to_dict() if self.categorical else None,
                "prediction": self.prediction.to_dict() if self.prediction else None,
                "rows": self.rows.to_dict() if self.rows else None,
                "calibration": self.calibration.to_dict() if self.calibration else None,
            }
        )

    @classmethod
    def from_json(
        cls, text: str, source: str = "", created_at: datetime | None = None
    ) -> ReferenceProfile:
        d = json.loads(text)
        return cls(
            n_rows=int(d["n_rows"]),
            kinds=dict(d["kinds"]),
            missing_rate={k: float(v) for k, v in d["missing_rate"].items()},
            numeric=NumericProfile.from_dict(d["numeric"]) if d.get("numeric") else None,
            categorical=CategoricalProfile.from_dict(d["categorical"])
            if d.get("categorical")
            else None,
            prediction=NumericProfile.from_dict(d["prediction"]) if d.get("prediction") else None,
            rows=JointSample.from_dict(d["rows"]) if d.get("rows") else None,
            calibration=(
                CalibrationSample.from_dict(d["calibration"]) if d.get("calibration") else None
            ),
            source=source,
            created_at=created_at or datetime.now(timezone.utc),
        )


def read_dataset(path: str | Path) -> pd.DataFrame:
    """Read a Parquet, CSV or JSONL file into a flat frame (one column per feature).

    Raises
    ------
    ValueError
        Unknown extension or unreadable file (the message names the file).
    """
    path = Path(path)
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".csv.gz"):
            frame = pd.read_csv(path)
        elif suffix in (".jsonl", ".ndjson", ".jsonl.gz", ".json"):
            frame = pd.read_json(path, lines=True)
        else:
            raise ValueError(f"{path}: unknown format {suffix!r}; use .parquet, .csv or .jsonl")
    except (OSError, ValueError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(str(path)):
            raise
        raise ValueError(f"{path}: cannot read: {exc}") from None
    if "features" in frame.columns and frame["features"].map(lambda v: isinstance(v, dict)).all():
        # The message shape: {"features": {...}, "prediction": ...}
        features = pd.json_normalize(frame["features"].tolist(), max_level=0)
        frame = pd.concat([features, frame.drop(columns=["features"])], axis=1)
    return frame


def _column_kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    present = series.dropna()
    if (
        len(present)
        and present.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all()
    ):
        return "numeric"
    return "categorical"


def _as_category(value: Any) -> Any:
    # The store keeps booleans as "true"/"false" (monitor/store/columns.py); match it.
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return value


def thin_sorted(values: np.ndarray, size: int) -> np.ndarray:
    """At most ``size`` evenly spaced order statistics of a sorted 1-D array.

    Examples
    --------
    >>> thin_sorted(np.arange(10.0), 4).tolist()
    [0.0, 3.0, 6.0, 9.0]
    """
    if len(values) <= size:
        return values
    idx = np.round(np.linspace(0, len(values) - 1, size)).astype(np.int64)
    return values[idx]


def _numeric_profile(
    frame: pd.DataFrame, names: list[str], sample_size: int
) -> NumericProfile | None:
    if not names:
        return None
    cols = []
    for name in names:
        v = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
        v = np.sort(v[np.isfinite(v)])
        cols.append(thin_sorted(v, sample_size))
    width = max((len(c) for c in cols), default=0)
    block = np.full((len(names), width), np.nan)
    for i, c in enumerate(cols):
        block[i, : len(c)] = c
    return NumericProfile(block, list(names))


def profile_frame(
    frame: pd.DataFrame,
    sample_size: int = 50_000,
    source: str = "",
    *,
    timestamp_column: str | None = None,
    ordered: bool = False,
    calibration_size: int = DEFAULT_SAMPLE_ROWS,
) -> ReferenceProfile:
    """Profile a reference frame; see the module docstring for what is kept.

    ``timestamp_column`` (sorted by, not a feature) or ``ordered`` (rows already in time
    order) let calibrated thresholds learn from the reference's own windows.
    """
    features = [
        c
        for c in frame.columns
        if c not in META_COLUMNS and c != PREDICTION and c != timestamp_column
    ]
    kinds = {str(c): _column_kind(frame[c]) for c in features}
    numeric = [c for c in features if kinds[str(c)] == "numeric"]
    categorical = [c for c in features if kinds[str(c)] == "categorical"]
    n = len(frame)
    missing = {str(c): float(frame[c].isna().mean()) if n else 0.0 for c in features}
    cat_profile = None
    if categorical:
        cat_profile = CategoricalProfile.from_columns(
            {str(c): [_as_category(v) for v in frame[c].tolist()] for c in categorical}
        )
    pred = None
    if PREDICTION in frame.columns:
        pred = _numeric_profile(frame, [PREDICTION], sample_size)
    return ReferenceProfile(
        n_rows=n,
        kinds=kinds,
        missing_rate=missing,
        numeric=_numeric_profile(frame, [str(c) for c in numeric], sample_size),
        categorical=cat_profile,
        prediction=pred,
        rows=sample_frame(frame, kinds),
        calibration=calibration_sample(
            frame,
            [str(c) for c in numeric],
            cat_profile,
            timestamp_column=timestamp_column,
            ordered=ordered,
            size=calibration_size,
            as_category=_as_category,
        ),
        source=source,
    )


def save_reference(store: Store, model: str, name: str, profile: ReferenceProfile) -> None:
    """Store (or replace) the profile of reference ``name`` of ``model``."""
    created = int(profile.created_at.timestamp())
    store.insert(
        schema.REFERENCE_PROFILES,
        ("model", "name", "source", "n_rows", "created_at", "profile"),
        [(model, name, profile.source, profile.n_rows, created, profile.to_json())],
    )
    _CACHE.pop((model, name), None)


_CACHE: dict[tuple[str, str], tuple[datetime, ReferenceProfile]] = {}


def list_references(
    store: Store, model: str | None = None
) -> list[tuple[str, str, str, int, datetime]]:
    """``(model, name, source, n_rows, created_at)`` of the latest version of each reference."""
    sql = (
        f"SELECT model, name, argMax(source, created_at), argMax(n_rows, created_at), "
        f"max(created_at) FROM {schema.REFERENCE_PROFILES} "
        + ("WHERE model = {model:String} " if model else "")
        + "GROUP BY model, name ORDER BY model, name"
    )
    rows = store.query(sql, {"model": model} if model else None)
    return [(r[0], r[1], r[2], int(r[3]), r[4]) for r in rows]


def load_reference(store: Store, model: str, name: str) -> ReferenceProfile | None:
    """The latest profile of ``name`` for ``model``, or None when there is none.

    Decoding a profile costs more than the query that finds its version, so decoded
    profiles are cached until a newer version is stored.
    """
    params = {"model": model, "name": name}
    latest = store.query(
        f"SELECT max(created_at), count() FROM {schema.REFERENCE_PROFILES} "
        "WHERE model = {model:String} AND name = {name:String}",
        params,
    )
    if not latest or not latest[0][1]:
        return None
    created = latest[0][0]
    cached = _CACHE.get((model, name))
    if cached and cached[0] == created:
        return cached[1]
    rows = store.query(
        f"SELECT argMax(profile, created_at), argMax(source, created_at) FROM {schema.REFERENCE_PROFILES} "
        "WHERE model = {model:String} AND name = {name:String}",
        params,
    )
    profile = ReferenceProfile.from_json(rows[0][0], source=rows[0][1], created_at=created)
    if profile.calibration is not None:  # what was learned from this version before
        stored = StoredCalibrations(store, model, name, created)
        profile.calibration.stored = stored.load()
        profile.calibration.keep = stored.save
    _CACHE[(model, name)] = (created, profile)
    return profile
