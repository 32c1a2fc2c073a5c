"""False alarms of the suggested rules on data that never drifts.

Draws a training set and then ``--windows`` current windows of ``--rows`` events each from
the *same* distributions, and runs on every window

* the rules ``driftline rules suggest`` writes for that training set, evaluated by the rule
  engine's own evaluation code (each kind's evaluate function from :mod:`monitor.rules.kinds`;
  only the store read is skipped), and
* beside them, the naive rule: any numeric feature with a two-sample KS ``p < 0.05``.

A window is a false alarm when any rule decides "true" in it (before ``for:`` persistence,
which would only lower the rate). The last line is ``false_alarm_rate: X naive_rate: Y``.

Run: ``.venv/bin/python bench/false_alarms.py`` (defaults: 200 windows of 100000 events).
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import pandas as pd

from monitor.rules.drift_blocks import drift_values
from monitor.rules.kind_interface import KindInput, WindowData
from monitor.rules.loader import load_document
from monitor.rules.reference_profiles import profile_frame
from monitor.rules.state import Outcome
from monitor.rules.suggest import suggest_rules
from monitor.stats.rowblock import RowBlock
from monitor.yamlfile import parse_yaml_text

COUNTRIES = np.array(["DE", "FR", "US", "GB", "IT"])
COUNTRY_P = np.array([0.4, 0.2, 0.2, 0.15, 0.05])


def draw(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """One sample of the (never drifting) production distribution."""
    amount = rng.lognormal(3.0, 1.0, n)
    amount[rng.random(n) < 0.01] = np.nan  # 1% missing, as in training
    return pd.DataFrame(
        {
            "amount": amount,
            "age": rng.integers(18, 90, n).astype(np.float64),
            "score": rng.normal(0.0, 1.0, n),
            "ratio": rng.uniform(0.0, 1.0, n),
            "country": COUNTRIES[rng.choice(len(COUNTRIES), n, p=COUNTRY_P)],
            "prediction": rng.beta(2.0, 5.0, n),
        }
    )


def window(frame: pd.DataFrame, kinds: dict[str, str]) -> WindowData:
    numeric = {f: frame[f].to_numpy(np.float64) for f, k in kinds.items() if k == "numeric"}
    categorical = {f: frame[f].to_numpy(object) for f, k in kinds.items() if k == "categorical"}
    return WindowData(
        numeric=numeric,
        categorical=categorical,
        kinds=dict(kinds),
        n_sampled=len(frame),
        n_events=len(frame),
        predictions=frame["prediction"].to_numpy(np.float64),
        rows=RowBlock.from_frame(frame, kinds),  # whole rows, for the multivariate rule
    )


def evaluate(rule, ref, cur) -> list:
    return rule.kind_row.evaluate(KindInput(rule=rule, current=cur, reference=ref))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--rows", type=int, default=100_000)
    # At most the profile's sample size, so the reference is kept whole (no thinning)
    # and KS p-values are exact for the naive rule.
    parser.add_argument("--reference-rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rng = np.random.default_rng(args.seed)

    ref = profile_frame(draw(rng, args.reference_rows), source="bench")
    text = suggest_rules("bench", "training", ref)
    rules = [r for g in load_document(parse_yaml_text(text, "suggested.yaml")) for r in g.rules]
    numeric = sorted(f for f, k in ref.kinds.items() if k == "numeric")
    print(f"suggested rules: {', '.join(f'{r.name} ({r.kind})' for r in rules)}")

    alarms = naive = 0
    by_rule: dict[str, int] = {r.name: 0 for r in rules}
    started = time.perf_counter()
    for i in range(args.windows):
        cur = window(draw(rng, args.rows), ref.kinds)
        fired = False
        for rule in rules:
            if any(r.outcome is Outcome.TRUE for r in evaluate(rule, ref, cur)):
                by_rule[rule.name] += 1
                fired = True
        alarms += fired
        # The naive rule: per-feature KS, p < 0.05, no correction, no effect size.
        _, p_values, *_ = drift_values("ks", "numeric", ref, numeric, cur)
        naive += bool(np.any(p_values < 0.05))
        if (i + 1) % 50 == 0:
            print(
                f"{i + 1} windows: {alarms} false alarms, naive {naive} "
                f"({time.perf_counter() - started:.0f}s)"
            )
    print("false alarms by rule: " + ", ".join(f"{k}={v}" for k, v in by_rule.items()))
    print(f"false_alarm_rate: {alarms / args.windows:.4f} naive_rate: {naive / args.windows:.4f}")


if __name__ == "__main__":
    main()
