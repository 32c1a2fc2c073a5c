"""Calibrated thresholds vs fixed ones vs "reference-chunk mean +- 3 sigma", on non-iid data.

Four scenarios, each a stream of ``--rows`` events per hour with three numeric features and
one categorical one; the reference is the first ``--days`` days of it (with its
timestamps), the windows evaluated are later 1h windows of the *same* process, each ending
on a 5-minute boundary (the interval ``rules suggest`` writes), two hours apart:

* ``iid``: every row drawn from one distribution;
* ``daily``: the mean of ``x0``, the spread of ``x1`` and the category mix follow the hour
  of the day;
* ``segments``: three customer segments whose mix changes from hour to hour (Dirichlet),
  each with its own feature distributions;
* ``ar1``: autocorrelated rows (AR(1), phi 0.995, on ``x0`` and ``x2``; a sticky Markov
  chain for the category).

Per scenario: ``--windows`` no-drift windows (the false-alarm rate) and ``--drift-windows``
windows per injected drift (mean shift of ``x0``, scale change of ``x1``, category-mix
change, each at three sizes). Every window is evaluated with the engine's own statistics
code (normed Wasserstein for numeric features and Jensen-Shannon for the categorical one,
as ``rules suggest`` picks for this reference size; the values come from the calibrated
rule's own evaluation and the chunk baseline's from ``drift_values``) under three ways of
deciding, all in the same run:

* **calibrated**: the rule ``threshold: {false_alarm_rate: R}`` as a user writes it, loaded
  by the rule loader and evaluated by ``monitor.rules.drift_kinds.evaluate_drift`` against the
  profile ``reference add --timestamp-column`` stores (thresholds learned from the
  reference's 1h windows ending on 5-minute boundaries, max-statistic adjustment over the
  four features, learned on the first evaluation and cached);
* **fixed**: today's suggested drift rules (threshold 0.1 on both statistics), decided by
  ``monitor.rules.drift_kinds.decide_drift``;
* **3sigma**: per feature, mean + 3 standard deviations of the statistic over the
  reference's disjoint 1h chunks (the usual "chunk" baseline).

A window alarms when any feature crosses. Last line:
``calibrated_far_ratio_max: X fixed_far_max: Y detection_at_far: Z baseline_detection: B``.

Run: ``.venv/bin/python bench/calibration.py`` (a few minutes on two cores).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitor.rules.drift_blocks import drift_values
from monitor.rules.drift_kinds import decide_drift, evaluate_drift
from monitor.rules.kind_interface import WindowData
from monitor.rules.loader import load_document
from monitor.rules.reference_profiles import profile_frame
from monitor.rules.state import Outcome
from monitor.yamlfile import parse_yaml_text

HOUR = 3600.0
INTERVAL = 300.0  # the group interval `rules suggest` writes: a 1h window every 5 minutes
NUMERIC = ["x0", "x1", "x2"]
CATS = np.array(["a", "b", "c", "d"])
NUM_STAT, CAT_STAT = "wasserstein", "jensenshannon"
DRIFTS = {
    "mean_shift": (0.25, 0.5, 1.0),  # x0 += size * reference std
    "scale": (1.25, 1.5, 2.0),  # x1 spread around its median times size
    "category_mix": (0.05, 0.1, 0.2),  # share of rows moved to the rarest category
}


@dataclass
class Stream:
    """A scenario's generator: ``hours(rng, start, n)`` -> frame with a ``ts`` column."""

    name: str
    hours: Callable[[np.random.Generator, int, int, int], pd.DataFrame]


def _frame(ts: np.ndarray, x: np.ndarray, cat: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"ts": ts, "x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "c": cat})


def _times(start: int, n_hours: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    hour = np.repeat(np.arange(start, start + n_hours), rows)
    within = np.tile((np.arange(rows) + 0.5) * HOUR / rows, n_hours)
    return hour, hour * HOUR + within


def _cats(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One category per row from per-row probabilities ``p`` (n, 4)."""
    u = rng.random((p.shape[0], 1))
    return CATS[np.minimum((u > np.cumsum(p, axis=1)).sum(axis=1), len(CATS) - 1)]


BASE_P = np.array([0.4, 0.3, 0.2, 0.1])


def iid(rng: np.random.Generator, start: int, n_hours: int, rows: int) -> pd.DataFrame:
    _, ts = _times(start, n_hours, rows)
    n = len(ts)
    z = rng.normal(size=(n, 3))
    x = np.column_stack([z[:, 0], np.exp(0.5 * z[:, 1]), 0.6 * z[:, 0] + 0.8 * z[:, 2]])
    return _frame(ts, x, _cats(rng, np.broadcast_to(BASE_P, (n, 4))))


def daily(rng: np.random.Generator, start: int, n_hours: int, rows: int) -> pd.DataFrame:
    hour, ts = _times(start, n_hours, rows)
    phase = 2 * np.pi * (hour % 24) / 24.0
    n = len(ts)
    z = rng.normal(size=(n, 3))
    x0 = 0.8 * np.sin(phase) + z[:, 0]
    x1 = np.exp((0.5 + 0.2 * np.cos(phase)) * z[:, 1])
    x2 = 0.6 * z[:, 0] + 0.8 * z[:, 2]
    p = BASE_P + 0.1 * np.sin(phase)[:, None] * np.array([1.0, -1.0, 0.5, -0.5])
    return _frame(ts, np.column_stack([x0, x1, x2]), _cats(rng, p))


SEG_MEAN = np.array([[-1.0, 0.0, 1.0], [0.5, 1.0, -0.5], [1.5, -1.0, 0.0]])
SEG_P = np.array([[0.7, 0.2, 0.05, 0.05], [0.2, 0.5, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]])


def segments(rng: np.random.Generator, start: int, n_hours: int, rows: int) -> pd.DataFrame:
    _, ts = _times(start, n_hours, rows)
    mix = rng.dirichlet([8.0, 5.0, 3.0], size=n_hours)  # each hour its own segment mix
    seg = (rng.random((n_hours * rows, 1)) > np.cumsum(np.repeat(mix, rows, 0), 1)).sum(1)
    seg = np.minimum(seg, 2)
    z = rng.normal(size=(len(ts), 3))
    x = SEG_MEAN[seg] + z
    x[:, 1] = np.exp(0.3 * x[:, 1])
    return _frame(ts, x, _cats(rng, SEG_P[seg]))


def ar1(rng: np.random.Generator, start: int, n_hours: int, rows: int) -> pd.DataFrame:
    from scipy.signal import lfilter

    _, ts = _times(start, n_hours, rows)
    n = len(ts)
    phi = 0.995
    # stationary AR(1) with unit variance; the generator's start state is re-drawn per
    # call, which is the stationary law, so later calls continue the same process
    e = rng.normal(size=(n, 2)) * np.sqrt(1 - phi**2)
    e[0] = rng.normal(size=2)
    lev = lfilter([1.0], [1.0, -phi], e, axis=0)
    z = rng.normal(size=n)
    x = np.column_stack([lev[:, 0], np.exp(0.5 * z), lev[:, 1]])
    # sticky categories: keep the previous row's category with probability 0.98
    fresh = _cats(rng, np.broadcast_to(BASE_P, (n, 4)))
    keep = rng.random(n) < 0.98
    idx = np.where(~keep, np.arange(n), 0)
    np.maximum.accumulate(idx, out=idx)
    return _frame(ts, x, fresh[idx])


SCENARIOS = [Stream("iid", iid), Stream("daily", daily), Stream("segments", segments)]
SCENARIOS.append(Stream("ar1", ar1))


def window_data(frame: pd.DataFrame) -> WindowData:
    return WindowData(
        numeric={f: frame[f].to_numpy(np.float64) for f in NUMERIC},
        categorical={"c": frame["c"].to_numpy(object)},
        kinds={**dict.fromkeys(NUMERIC, "numeric"), "c": "categorical"},
        n_sampled=len(frame),
        n_events=len(frame),
    )


def values(ref, cur: WindowData) -> np.ndarray:
    """The engine's statistics of one window: [x0, x1, x2, c]."""
    _, num, *_ = drift_values(NUM_STAT, "numeric", ref, NUMERIC, cur)
    _, cat, *_ = drift_values(CAT_STAT, "categorical", ref, ["c"], cur)
    return np.concatenate([num, cat])


def inject(rng: np.random.Generator, frame: pd.DataFrame, kind: str, size: float, ref_std):
    out = frame.copy()
    if kind == "mean_shift":
        out["x0"] = out["x0"] + size * ref_std
    elif kind == "scale":
        med = float(np.median(out["x1"]))
        out["x1"] = med + (out["x1"] - med) * size
    else:
        moved = rng.random(len(out)) < size
        out.loc[moved, "c"] = "d"
    return out


RULE = """
groups:
  - name: bench
    interval: 5m
    rules:
      - name: calibrated
        kind: drift
        features: all
        threshold: {{false_alarm_rate: {rate}, seed: {seed}}}
        reference: {{dataset: training}}
        window: 1h
        min_samples: 50
"""


def calibrated_rule(rate: float, seed: int):
    """The calibrated rule as a user writes it, loaded by the rule loader."""
    text = RULE.format(rate=rate, seed=seed)
    [group] = load_document(parse_yaml_text(text, "bench.yaml"))
    return group.rules[0], group.interval


def evaluate(rule, interval, ref, cur: WindowData) -> tuple[np.ndarray, bool, list]:
    """The engine's evaluation of the calibrated rule: values [x0, x1, x2, c], its alarm."""
    results = evaluate_drift(rule, ref, cur, interval=interval)
    by_name = {r.feature: r for r in results}
    v = np.array([by_name[f].value for f in [*NUMERIC, "c"]])
    return v, any(r.outcome is Outcome.TRUE for r in results), results


def chunk_band(ref, frame: pd.DataFrame, rows: int) -> np.ndarray:
    """Mean + 3 sigma of each feature's statistic over disjoint reference chunks."""
    chunk_values = np.array(
        [values(ref, window_data(frame.iloc[s : s + rows])) for s in range(0, len(frame), rows)]
    )
    return chunk_values.mean(axis=0) + 3.0 * chunk_values.std(axis=0, ddof=1)


def run_scenario(stream: Stream, args: argparse.Namespace) -> dict:
    rng = np.random.default_rng([args.seed, SCENARIOS.index(stream)])
    ref_hours = 24 * args.days
    frame = stream.hours(rng, 0, ref_hours, args.rows)
    # what `reference add --timestamp-column ts` stores (every row kept for calibration)
    ref = profile_frame(
        frame,
        sample_size=args.sample_size,
        source="bench",
        timestamp_column="ts",
        calibration_size=len(frame),
    )
    rule, interval = calibrated_rule(args.rate, args.seed)
    started = time.perf_counter()
    # the first evaluation learns the thresholds (then cached with the reference)
    first = evaluate(rule, interval, ref, window_data(frame.iloc[: args.rows]))[2]
    cal_s = time.perf_counter() - started
    [cal] = [c for c in ref.calibration.cache.values() if not isinstance(c, Exception)]
    band = chunk_band(ref, frame, args.rows)
    fixed = np.array([0.1, 0.1, 0.1, 0.1])  # the suggested rules' thresholds
    x0_std = float(np.asarray(ref.numeric.std)[0])
    # the no-drift stream continues after the reference; the engine evaluates a 1h window
    # every 5 minutes, so each window ends on a random 5-minute boundary, two hours apart
    later = stream.hours(rng, ref_hours, 2 * args.windows + 1, args.rows)
    ts = later["ts"].to_numpy()
    ends = (ref_hours + 1 + 2 * np.arange(args.windows)) * HOUR
    ends = ends + INTERVAL * rng.integers(0, int(HOUR // INTERVAL), size=args.windows)
    lo, hi = np.searchsorted(ts, ends - HOUR), np.searchsorted(ts, ends)
    windows = [later.iloc[a:b] for a, b in zip(lo, hi, strict=True)]
    assert first and {r.threshold_source for r in first} == {"calibrated"}

    def alarms(w: pd.DataFrame) -> tuple[bool, bool, bool]:
        v, calibrated_hit, _ = evaluate(rule, interval, ref, window_data(w))
        ok = np.ones(len(v), dtype=bool)
        fixed_hit = decide_drift(v, np.full(len(v), np.nan), 0.1, "above", False, ok).any()
        return calibrated_hit, bool(fixed_hit), bool(np.any(v > band))

    null = np.array([alarms(w) for w in windows])
    far = null.mean(axis=0)
    detect: dict[str, dict[float, np.ndarray]] = {}
    for kind, sizes in DRIFTS.items():
        detect[kind] = {}
        for size in sizes:
            hits = [
                alarms(inject(rng, w, kind, size, x0_std)) for w in windows[: args.drift_windows]
            ]
            detect[kind][size] = np.mean(hits, axis=0)
    assert np.array_equal(fixed, np.full(4, 0.1))
    return {
        "name": stream.name,
        "far": far,
        "detect": detect,
        "cal": cal,
        "cal_s": cal_s,
        "band": band,
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0.02, help="stated false-alarm rate")
    parser.add_argument("--days", type=int, default=52, help="reference length (days)")
    parser.add_argument("--rows", type=int, default=200, help="events per hour")
    parser.add_argument("--windows", type=int, default=1500, help="no-drift windows")
    parser.add_argument("--drift-windows", type=int, default=150, help="windows per drift")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument(
        "--sample-size", type=int, default=50_000, help="profile size (rules.reference_sample_size)"
    )
    parser.add_argument("--scenarios", default=",".join(s.name for s in SCENARIOS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    chosen = [s for s in SCENARIOS if s.name in args.scenarios.split(",")]
    print(
        f"rate {args.rate} per window for the whole rule; reference {args.days} days x 24 h x "
        f"{args.rows} rows; {args.windows} no-drift windows, {args.drift_windows} per drift"
    )
    results = []
    for stream in chosen:
        r = run_scenario(stream, args)
        results.append(r)
        cal = r["cal"]
        print(
            f"[{r['name']}] false alarms: calibrated {r['far'][0]:.4f} "
            f"(ratio {r['far'][0] / args.rate:.2f}), fixed {r['far'][1]:.4f}, "
            f"3sigma {r['far'][2]:.4f}   ({r['seconds']:.0f}s; calibration {r['cal_s']:.1f}s, "
            f"{cal.n_null} {cal.method} windows, in-sample {cal.in_sample_rate:.4f}, "
            f"per-feature p {cal.feature_rate:.4f} vs "
            f"Sidak {cal.sidak_feature_rate:.4f})"
        )
        print(
            "    thresholds calibrated "
            + " ".join(f"{f}={t:.4f}" for f, t in zip(cal.features, cal.thresholds, strict=True))
            + " | 3sigma "
            + " ".join(f"{t:.4f}" for t in r["band"])
        )
        for kind, by_size in r["detect"].items():
            cells = "  ".join(
                f"{size:g}: cal {d[0]:.2f} fixed {d[1]:.2f} 3sig {d[2]:.2f}"
                for size, d in by_size.items()
            )
            print(f"    detection {kind:<12} {cells}")
    ratios = [r["far"][0] / args.rate for r in results]
    mid = [r["detect"][k][DRIFTS[k][1]] for r in results for k in DRIFTS]
    z = float(np.mean([d[0] for d in mid]))
    base = float(np.mean([d[2] for d in mid]))
    print(f"calibrated_far_ratio_min: {min(ratios):.2f}")
    print(
        f"calibrated_far_ratio_max: {max(ratios):.2f} "
        f"fixed_far_max: {max(r['far'][1] for r in results):.4f} "
        f"detection_at_far: {z:.3f} baseline_detection: {base:.3f}"
    )


if __name__ == "__main__":
    main()
