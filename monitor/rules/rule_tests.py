"""``driftline rules test``: rule unit tests in YAML, in the manner of ``promtool test rules``.

A test file names rule files, optional reference datasets, and tests. Each test writes
fixture events per window into a fresh embedded chDB store in a temporary directory
(the same store code and SQL the daemon runs), then steps the engine's clock over every
evaluation boundary from ``start`` and compares, at each ``at``, the alerts expected with
the alerts the engine reports::

    rule_files: [../rules/quality.yaml]          # relative to this file
    references:
      - {model: fraud, name: training, file: train.csv}      # or rows: N + features
    tests:
      - name: missing spike fires
        start: 2026-01-05T00:00:00Z
        windows:                                   # fixture events
          - {model: fraud, from: 0m, to: 30m, rows: 600,
             features: {amount: {normal: [50, 5]}, country: {choice: [DE, FR]}},
             missing: {amount: 0.5}}
        alerts:
          - at: 20m
            expected:
              - {labels: {alertname: missing_values, feature: amount}, state: firing}

Feature specs (the full list is in docs/rules.md): a constant (``3.5`` or ``DE``),
``{normal: [mean, sd]}``, ``{uniform: [low, high]}``, ``{lognormal: [mu, sigma]}``,
``{exponential: [scale]}``, ``{poisson: [lam]}``, ``{choice: [a, b, ...]}`` or weighted
``{choice: {a: 0.9, b: 0.1}}``, ``{values: [...]}`` (in turn) and
``{file: {path: x.csv, column: amount}}`` (resampled from a real file, ``order: true``
for its rows in order); values are drawn from a fixed seed so a test always sees the
same data. Compared at each ``at``: every firing alert,
plus pending/resolved alerts when an expectation names that state. Expected labels must be
a subset of the alert's labels. chDB holds one data directory per process, so the tests
run one after the other, each on its own directory.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from monitor.records import Batch, Event, Origin
from monitor.rules.engine import RuleEngine, align
from monitor.rules.loader import load_rule_files
from monitor.rules.model import Duration
from monitor.rules.reference_profiles import profile_frame, read_dataset, save_reference
from monitor.yamlfile import FileProblems, parse_yaml_file, validate_document

log = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Generated(_Strict):
    rows: int = Field(ge=0)
    features: dict[str, Any] = Field(default_factory=dict)
    missing: dict[str, float] = Field(default_factory=dict)
    prediction: Any = None
    seed: int = 0


class Window(Generated):
    model: str
    from_: Duration = Field(alias="from")
    to: Duration
    sampled: bool = True


class Reference(_Strict):
    model: str
    name: str
    file: Path | None = None
    rows: int | None = Field(None, ge=1)
    features: dict[str, Any] = Field(default_factory=dict)
    missing: dict[str, float] = Field(default_factory=dict)
    prediction: Any = None
    seed: int = 0
    # a file's time column (``reference add --timestamp-column``): calibrated rules learn
    # from its windows; without one they resample the reference
    timestamp_column: str | None = None


class ExpectedAlert(_Strict):
    labels: dict[str, str] = Field(default_factory=dict)
    state: Literal["firing", "pending", "resolved"] = "firing"


class Check(_Strict):
    at: Duration
    expected: list[ExpectedAlert] = Field(default_factory=list)


class RuleTest(_Strict):
    name: str
    start: datetime
    windows: list[Window] = Field(default_factory=list)
    alerts: list[Check] = Field(min_length=1)


class TestFile(_Strict):
    rule_files: list[Path] = Field(min_length=1)
    references: list[Reference] = Field(default_factory=list)
    tests: list[RuleTest] = Field(min_length=1)


# Distributions a feature spec may name: {name: [parameters]}, NumPy's parametrisation.
_DISTRIBUTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "normal": (2, lambda rng, a, n: rng.normal(a[0], a[1], n)),  # mean, sd
    "uniform": (2, lambda rng, a, n: rng.uniform(a[0], a[1], n)),  # low, high
    "lognormal": (2, lambda rng, a, n: rng.lognormal(a[0], a[1], n)),  # mean, sigma of log
    "exponential": (1, lambda rng, a, n: rng.exponential(a[0], n)),  # scale (the mean)
    "poisson": (1, lambda rng, a, n: rng.poisson(a[0], n).astype(float)),  # lam
}
SPEC_NAMES = (*_DISTRIBUTIONS, "choice", "values", "file")


def _draw(spec: Any, n: int, rng: np.random.Generator, base: Path = Path(".")) -> list[Any]:
    """``n`` values of one feature spec (see the module docstring)."""
    if not (isinstance(spec, dict) and len(spec) == 1):
        return [spec] * n
    ((kind, args),) = spec.items()
    if kind in _DISTRIBUTIONS:
        arity, draw = _DISTRIBUTIONS[kind]
        if not isinstance(args, list) or len(args) != arity:
            raise ValueError(f"feature spec {kind!r} takes a list of {arity} number(s)")
        return list(draw(rng, [float(a) for a in args], n))
    if kind == "choice":
        if isinstance(args, dict):  # {DE: 0.7, FR: 0.3}: weighted
            names, weights = list(args), np.asarray(list(args.values()), dtype=float)
            if len(names) == 0 or weights.min() < 0 or weights.sum() <= 0:
                raise ValueError("feature spec 'choice' weights must be >= 0, not all 0")
            picks = rng.choice(len(names), size=n, p=weights / weights.sum())
            return [names[i] for i in picks]
        return [args[i] for i in rng.integers(0, len(args), n)]
    if kind == "values":  # the listed values in turn
        if not isinstance(args, list) or not args:
            raise ValueError("feature spec 'values' takes a non-empty list")
        return [args[i % len(args)] for i in range(n)]
    if kind == "file":  # {file: {path: x.csv, column: amount}}: resampled from real data
        return _from_file(args, n, rng, base)
    raise ValueError(f"unknown feature spec {kind!r}; valid: {', '.join(SPEC_NAMES)}")


def _from_file(args: Any, n: int, rng: np.random.Generator, base: Path) -> list[Any]:
    if not isinstance(args, dict) or set(args) - {"path", "column", "order"} or "path" not in args:
        raise ValueError("feature spec 'file' takes {path: FILE, column: NAME, order: false}")
    path = base / str(args["path"])
    frame = read_dataset(path)
    column = str(args.get("column", ""))
    if column not in frame.columns:
        raise ValueError(f"{path}: no column {column!r}; columns: {', '.join(map(str, frame))}")
    values = frame[column].tolist()
    if not values:
        raise ValueError(f"{path}: column {column!r} is empty")
    if args.get("order"):  # the file's rows in order, repeated
        return [values[i % len(values)] for i in range(n)]
    return [values[i] for i in rng.integers(0, len(values), n)]


def _columns(
    g: Generated | Reference, n: int, base: Path = Path(".")
) -> tuple[dict[str, list[Any]], list[Any]]:
    rng = np.random.default_rng(g.seed)
    cols = {}
    for name, spec in g.features.items():
        values = _draw(spec, n, rng, base)
        gaps = rng.random(n) < g.missing.get(name, 0.0)
        cols[name] = [None if gap else v for v, gap in zip(values, gaps, strict=True)]
    preds = _draw(g.prediction, n, rng, base) if g.prediction is not None else [None] * n
    return cols, preds


def _events(w: Window, start: datetime, first: int, base: Path) -> list[Event]:
    cols, preds = _columns(w, w.rows, base)
    t0, span = start + w.from_, (w.to - w.from_).total_seconds()
    return [
        Event(
            event_id=f"t{first + i}",
            model=w.model,
            model_version="test",
            ts=t0 + timedelta(seconds=span * i / max(w.rows, 1)),
            features={
                k: (
                    float(v)
                    if isinstance(v, (int, float, np.floating)) and not isinstance(v, bool)
                    else v
                )
                for k, v in ((k, c[i]) for k, c in cols.items())
            },
            prediction=None if preds[i] is None else float(preds[i]),
            latency_ms=None,
            origin=Origin("rules-test", 0, first + i),
            sampled=w.sampled,
        )
        for i in range(w.rows)
    ]


def _matches(exp: ExpectedAlert, alert: Any) -> bool:
    return exp.state == alert.state and all(alert.labels.get(k) == v for k, v in exp.labels.items())


def run_test(test: RuleTest, spec: TestFile, base: Path, echo: Callable[[str], None]) -> bool:
    """Run one test on a fresh chDB store; print mismatches; True when it passes."""
    from monitor.store.factory import open_store
    from monitor.store.settings import StoreSettings

    ruleset = load_rule_files([base / f for f in spec.rule_files])
    start = test.start if test.start.tzinfo else test.start.replace(tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory(prefix="driftline-rules-test-") as tmp:
        store = open_store(StoreSettings(path=Path(tmp) / "data"))
        try:
            store.migrate()
            for ref in spec.references:
                if ref.file is not None:
                    frame = read_dataset(base / ref.file)
                else:
                    cols, preds = _columns(ref, ref.rows or 0, base)
                    frame = pd.DataFrame(cols)
                    if ref.prediction is not None:
                        frame["prediction"] = preds
                profile = profile_frame(
                    frame, source="test", timestamp_column=ref.timestamp_column
                )
                save_reference(store, ref.model, ref.name, profile)
            events: list[Event] = []
            for w in test.windows:
                events += _events(w, start, len(events), base)
            store.write_batch(Batch(events=events))
            now = {"t": start}
            engine = RuleEngine(store, ruleset, clock=lambda: now["t"], max_catch_up=1)
            step = min(g.interval for g in ruleset.groups)
            checks = {c.at: c for c in test.alerts}
            ok = True
            t = align(start, step)
            end = start + max(checks)
            while t <= end:
                now["t"] = t
                alerts = engine.evaluate_due(t)
                check = checks.get(t - start)
                if check is not None:
                    ok &= _compare(test.name, check, alerts, echo)
                t += step
            missed = [c.at for c in test.alerts if (c.at.total_seconds() % step.total_seconds())]
            for at in missed:
                echo(f'FAIL "{test.name}": at {at} is not on an evaluation boundary ({step})')
                ok = False
            return ok
        finally:
            store.close()


def _compare(name: str, check: Check, alerts: list[Any], echo: Callable[[str], None]) -> bool:
    states = {"firing"} | {e.state for e in check.expected}
    actual = [a for a in alerts if a.state in states]
    unmatched = list(actual)
    missing = []
    for exp in check.expected:
        hit = next((a for a in unmatched if _matches(exp, a)), None)
        if hit is None:
            missing.append(exp)
        else:
            unmatched.remove(hit)
    if not missing and not unmatched:
        return True
    echo(f'FAIL "{name}" at {check.at}:')
    echo("  expected:")
    for e in check.expected:
        echo(f"    {e.state} {dict(sorted(e.labels.items()))}")
    echo("  actual:")
    for a in actual:
        echo(f"    {a.state} {dict(sorted(a.labels.items()))} value={a.value}")
    return False


def run_test_files(paths: Sequence[str | Path], echo: Callable[[str], None] = print) -> bool:
    """Run every test of every file; True when all pass (invalid files count as failures)."""
    ok = True
    for path in map(Path, paths):
        try:
            spec = validate_document(TestFile, parse_yaml_file(path))
        except FileProblems as exc:
            for p in exc.problems:
                echo(str(p))
            ok = False
            continue
        for test in spec.tests:
            try:
                passed = run_test(test, spec, path.parent, echo)
            except FileProblems as exc:
                for p in exc.problems:
                    echo(str(p))
                passed = False
            except ValueError as exc:
                echo(f'FAIL "{test.name}": {exc}')
                passed = False
            echo(f'{"PASS" if passed else "FAIL"} {path}: "{test.name}"')
            ok &= passed
    return ok
