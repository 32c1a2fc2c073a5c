"""Benchmark: Driftline's drift statistics against Evidently 0.7's DataDriftPreset.

Same data, same methods, same run. Evidently's defaults pick Wasserstein (normed) for
numeric columns and Jensen-Shannon for categorical columns with more than 1000 rows, so
both are forced explicitly on both sides (and PSI on both kinds, whose values are checked
too). Both sides are timed as the best of the same number of rounds. Prints the values'
largest absolute difference and the timings, then a big case (100 features, 1M reference
rows, 100k current rows) evaluated against a cached reference profile: the timed
statistic is Wasserstein, Evidently's choice at that size; KS (its statistic and its
SciPy p-values separately) and PSI are printed for information.

Last line: ``speedup_vs_evidently: X max_abs_diff: D big_case_s: T``

Run: ``DO_NOT_TRACK=1 .venv/bin/python bench/drift.py [--quick]``
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from importlib.metadata import version

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's telemetry off before it imports

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from monitor.stats import ks  # noqa: E402
from monitor.stats.numeric_profile import NumericProfile  # noqa: E402
from monitor.stats.table import get_statistic  # noqa: E402


def _timed(fn, rounds: int) -> tuple[float, object]:
    """Best wall time of ``rounds`` calls (the least disturbed by other jobs) and a result."""
    best, out = float("inf"), None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def numeric_data(n_ref: int, n_cur: int, n_feat: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(n_ref, n_feat))
    shift = np.linspace(0.0, 0.2, n_feat)  # slight shifts, from none to 0.2 sd
    cur = rng.normal(size=(n_cur, n_feat)) + shift
    return ref, cur


def evidently_values(
    ref: pd.DataFrame, cur: pd.DataFrame, num: list[str], cat: list[str], method: str
) -> dict[str, float]:
    """One Evidently ``DataDriftPreset`` run; the drift value of every column."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    dd = DataDefinition(numerical_columns=num or None, categorical_columns=cat or None)
    report = Report([DataDriftPreset(method=method)])
    snap = report.run(
        Dataset.from_pandas(cur, data_definition=dd), Dataset.from_pandas(ref, data_definition=dd)
    )
    out = {}
    for m in snap.dict()["metrics"]:
        cfg = m.get("config", {})
        if cfg.get("type", "").endswith("ValueDrift"):
            out[cfg["column"]] = float(m["value"])
    return out


def _diff(values, expected: dict[str, float], names: list[str]) -> float:
    return max(abs(float(values[i]) - expected[n]) for i, n in enumerate(names))


def numeric_case(n_ref: int, n_cur: int, n_feat: int, rounds: int) -> dict[str, float]:
    ref, cur = numeric_data(n_ref, n_cur, n_feat)
    names = [f"x{i}" for i in range(n_feat)]
    ref_df, cur_df = pd.DataFrame(ref, columns=names), pd.DataFrame(cur, columns=names)
    ev_s, ev = _timed(lambda: evidently_values(ref_df, cur_df, names, [], "wasserstein"), rounds)
    t0 = time.perf_counter()
    profile = NumericProfile.from_array(ref, names=names)
    profile_s = time.perf_counter() - t0
    stat = get_statistic("wasserstein")
    dl_s, res = _timed(lambda: stat.function(profile, cur), rounds)
    # one row fewer: the sizes no longer divide, so Wasserstein takes its general grid
    odd = cur[:-1]
    odd_s, _ = _timed(lambda: stat.function(profile, odd), rounds)
    diff = _diff(res.values, ev, names)
    psi_diff = _diff(
        get_statistic("psi").function(profile, cur).values,
        evidently_values(ref_df, cur_df, names, [], "psi"),
        names,
    )
    print(
        f"numeric {n_feat}x{n_ref}/{n_cur} wasserstein: evidently {ev_s:.3f}s, "
        f"driftline eval {dl_s * 1e3:.1f} ms (+ profile once {profile_s:.3f}s), "
        f"speedup {ev_s / dl_s:.0f}x (cold {ev_s / (dl_s + profile_s):.0f}x), "
        f"max_abs_diff {diff:.3g}; psi max_abs_diff {psi_diff:.3g}; "
        f"eval at {n_cur - 1} current rows {odd_s * 1e3:.1f} ms"
    )
    return {"evidently_s": ev_s, "driftline_s": dl_s, "diff": max(diff, psi_diff)}


def categorical_case(n_ref: int, n_cur: int, n_feat: int, rounds: int) -> dict[str, float]:
    from monitor.stats.categorical_profile import CategoricalProfile

    rng = np.random.default_rng(1)
    names = [f"c{i}" for i in range(n_feat)]
    cats = np.array([f"v{i}" for i in range(12)])
    p_ref = np.full(12, 1 / 12)
    p_cur = np.linspace(0.7, 1.3, 12)
    p_cur /= p_cur.sum()
    ref = pd.DataFrame({n: cats[rng.choice(12, n_ref, p=p_ref)] for n in names})
    cur = pd.DataFrame({n: cats[rng.choice(12, n_cur, p=p_cur)] for n in names})
    ev_s, ev = _timed(lambda: evidently_values(ref, cur, [], names, "jensenshannon"), rounds)
    t0 = time.perf_counter()
    profile = CategoricalProfile.from_columns({n: ref[n].tolist() for n in names})
    profile_s = time.perf_counter() - t0
    columns = {n: cur[n].tolist() for n in names}
    # the same table rows as the numeric case: psi / jensenshannon dispatch on the profile
    js, psi = get_statistic("jensenshannon"), get_statistic("psi")

    def run():
        return js.function(profile, profile.encode(columns))

    dl_s, res = _timed(run, rounds)
    diff = _diff(res.values, ev, names)
    psi_diff = _diff(
        psi.function(profile, profile.encode(columns)).values,
        evidently_values(ref, cur, [], names, "psi"),
        names,
    )
    print(
        f"categorical {n_feat}x{n_ref}/{n_cur} jensenshannon: evidently {ev_s:.3f}s, "
        f"driftline eval+encode {dl_s * 1e3:.1f} ms (+ profile once {profile_s:.3f}s), "
        f"speedup {ev_s / dl_s:.0f}x, max_abs_diff {diff:.3g}; psi max_abs_diff {psi_diff:.3g}"
    )
    return {"diff": max(diff, psi_diff)}


def big_case(n_ref: int, n_cur: int, n_feat: int, rounds: int) -> float:
    ref, cur = numeric_data(n_ref, n_cur, n_feat, seed=2)
    t0 = time.perf_counter()
    profile = NumericProfile.from_array(ref)
    profile_s = time.perf_counter() - t0
    del ref
    stat = get_statistic("wasserstein")
    big_s, res = _timed(lambda: stat.function(profile, cur), rounds)
    d_s, (d, n, m) = _timed(lambda: ks.ks_statistic(profile, cur), 1)
    p_s, _ = _timed(lambda: ks.ks_pvalue(np.asarray(d), np.asarray(n), np.asarray(m)), 1)
    psi_s, _ = _timed(lambda: get_statistic("psi").function(profile, cur), rounds)
    print(
        f"big {n_feat}x{n_ref}/{n_cur}: profile once {profile_s:.2f}s; cached-profile eval: "
        f"wasserstein {big_s:.3f}s, ks D {d_s:.3f}s + SciPy p-values {p_s:.3f}s, "
        f"psi {psi_s:.3f}s (values finite: {bool(np.isfinite(res.values).all())})"
    )
    return big_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per side (best kept)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    rounds = args.rounds
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"numpy {np.__version__}, scipy {version('scipy')}, pandas {pd.__version__}, "
        f"evidently {version('evidently')}; cores {os.cpu_count()}, load average {load}; "
        f"best of {rounds} rounds per side"
    )
    if args.quick:
        num = numeric_case(20_000, 5_000, 5, rounds)
        cat = categorical_case(20_000, 5_000, 3, rounds)
        big = big_case(100_000, 10_000, 10, rounds)
    else:
        num = numeric_case(200_000, 50_000, 20, rounds)
        cat = categorical_case(200_000, 50_000, 10, rounds)
        big = big_case(1_000_000, 100_000, 100, rounds)
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    diff = max(num["diff"], cat["diff"])
    print(
        f"speedup_vs_evidently: {num['evidently_s'] / num['driftline_s']:.0f} "
        f"max_abs_diff: {diff:.3g} big_case_s: {big:.3f}"
    )


if __name__ == "__main__":
    main()
