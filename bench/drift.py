"""Benchmark: Driftline's drift statistics against Evidently 0.7's DataDriftPreset.

Same data, same methods, same run. Evidently's defaults pick Wasserstein (normed) for
numeric columns and Jensen-Shannon for categorical columns with more than 1000 rows, so
both are forced explicitly on both sides. Prints the values' largest absolute difference
and the timings, then a big case (100 features, 1M reference rows, 100k current rows)
evaluated against a cached reference profile.

Last line: ``speedup_vs_evidently: X max_abs_diff: D big_case_s: T``

Run: ``DO_NOT_TRACK=1 .venv/bin/python bench/drift.py [--quick]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's telemetry off before it imports

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from monitor.stats.profile import NumericProfile  # noqa: E402
from monitor.stats.table import get_statistic  # noqa: E402


def _timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def numeric_data(n_ref: int, n_cur: int, n_feat: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(n_ref, n_feat))
    shift = np.linspace(0.0, 0.2, n_feat)  # slight shifts, from none to 0.2 sd
    cur = rng.normal(size=(n_cur, n_feat)) + shift
    return ref, cur


def evidently_values(
    ref: pd.DataFrame, cur: pd.DataFrame, num: list[str], cat: list[str], method: str
) -> tuple[float, dict[str, float]]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    dd = DataDefinition(numerical_columns=num or None, categorical_columns=cat or None)
    report = Report([DataDriftPreset(method=method)])
    t0 = time.perf_counter()
    snap = report.run(
        Dataset.from_pandas(cur, data_definition=dd), Dataset.from_pandas(ref, data_definition=dd)
    )
    elapsed = time.perf_counter() - t0
    out = {}
    for m in snap.dict()["metrics"]:
        cfg = m.get("config", {})
        if cfg.get("type", "").endswith("ValueDrift"):
            out[cfg["column"]] = float(m["value"])
    return elapsed, out


def numeric_case(n_ref: int, n_cur: int, n_feat: int, repeat: int) -> dict[str, float]:
    ref, cur = numeric_data(n_ref, n_cur, n_feat)
    names = [f"x{i}" for i in range(n_feat)]
    ev_s, ev = evidently_values(
        pd.DataFrame(ref, columns=names), pd.DataFrame(cur, columns=names), names, [], "wasserstein"
    )
    stat = get_statistic("wasserstein")
    t0 = time.perf_counter()
    profile = NumericProfile.from_array(ref, names=names)
    profile_s = time.perf_counter() - t0
    dl_s, res = _timed(lambda: stat.function(profile, cur), repeat)
    diff = max(abs(float(res.values[i]) - ev[n]) for i, n in enumerate(names))
    print(
        f"numeric {n_feat}x{n_ref}/{n_cur} wasserstein: evidently {ev_s:.3f}s, "
        f"driftline eval {dl_s * 1e3:.1f} ms (+ profile once {profile_s:.3f}s), "
        f"speedup {ev_s / dl_s:.0f}x (cold {ev_s / (dl_s + profile_s):.0f}x), "
        f"max_abs_diff {diff:.3g}"
    )
    return {"evidently_s": ev_s, "driftline_s": dl_s, "profile_s": profile_s, "diff": diff}


def categorical_case(n_ref: int, n_cur: int, n_feat: int, repeat: int) -> dict[str, float] | None:
    try:
        from monitor.stats import categorical
    except ImportError:
        print("categorical: monitor.stats.categorical not available, skipped")
        return None
    rng = np.random.default_rng(1)
    names = [f"c{i}" for i in range(n_feat)]
    cats = np.array([f"v{i}" for i in range(12)])
    p_ref = np.full(12, 1 / 12)
    p_cur = np.linspace(0.7, 1.3, 12)
    p_cur /= p_cur.sum()
    ref = pd.DataFrame({n: cats[rng.choice(12, n_ref, p=p_ref)] for n in names})
    cur = pd.DataFrame({n: cats[rng.choice(12, n_cur, p=p_cur)] for n in names})
    ev_s, ev = evidently_values(ref, cur, [], names, "jensenshannon")
    t0 = time.perf_counter()
    profile = categorical.CategoricalProfile.from_columns({n: ref[n].tolist() for n in names})
    profile_s = time.perf_counter() - t0

    def run():
        codes = profile.encode({n: cur[n].tolist() for n in names})
        return categorical.jensenshannon(profile, codes)

    dl_s, res = _timed(run, repeat)
    diff = max(abs(float(res.values[i]) - ev[n]) for i, n in enumerate(names))
    print(
        f"categorical {n_feat}x{n_ref}/{n_cur} jensenshannon: evidently {ev_s:.3f}s, "
        f"driftline eval+encode {dl_s * 1e3:.1f} ms (+ profile once {profile_s:.3f}s), "
        f"speedup {ev_s / dl_s:.0f}x, max_abs_diff {diff:.3g}"
    )
    return {"diff": diff}


def big_case(n_ref: int, n_cur: int, n_feat: int, repeat: int) -> float:
    ref, cur = numeric_data(n_ref, n_cur, n_feat, seed=2)
    t0 = time.perf_counter()
    profile = NumericProfile.from_array(ref)
    profile_s = time.perf_counter() - t0
    del ref
    stat = get_statistic("wasserstein")
    big_s, res = _timed(lambda: stat.function(profile, cur), repeat)
    ks_s, _ = _timed(lambda: get_statistic("ks").function(profile, cur), 1)
    psi_s, _ = _timed(lambda: get_statistic("psi").function(profile, cur), 1)
    print(
        f"big {n_feat}x{n_ref}/{n_cur}: profile once {profile_s:.2f}s; cached-profile eval: "
        f"wasserstein {big_s:.3f}s, ks {ks_s:.3f}s, psi {psi_s:.3f}s "
        f"(values finite: {bool(np.isfinite(res.values).all())})"
    )
    return big_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    print(f"numpy {np.__version__}, cores {os.cpu_count()}")
    if args.quick:
        num = numeric_case(20_000, 5_000, 5, 3)
        cat = categorical_case(20_000, 5_000, 3, 3)
        big = big_case(100_000, 10_000, 10, 3)
    else:
        num = numeric_case(200_000, 50_000, 20, 5)
        cat = categorical_case(200_000, 50_000, 10, 3)
        big = big_case(1_000_000, 100_000, 100, 3)
    diff = max(num["diff"], cat["diff"] if cat else 0.0)
    print(
        f"speedup_vs_evidently: {num['evidently_s'] / num['driftline_s']:.0f} "
        f"max_abs_diff: {diff:.3g} big_case_s: {big:.3f}"
    )


if __name__ == "__main__":
    main()
