"""Multivariate drift and estimated performance on synthetic streams with known truth.

Multivariate drift: a reference of ``--features`` standard-normal features in which
``--pairs`` pairs are correlated (rho = 0.8), and windows of ``--window-rows`` rows that are
either drawn from the same distribution (no-drift windows: false alarms) or with every
pair's correlation flipped to -0.8 (correlation-flip windows: every marginal unchanged;
``--flip-rho`` sets another correlation, ``--pairs`` how many pairs change).
On each window run

* the PCA reconstruction-error detector (:class:`monitor.stats.multivariate.PcaDrift`,
  default settings: 65 % of the variance, band at a 1 % two-sided rate, 2 % minimum
  change) - "the multivariate rule";
* the domain classifier (:class:`DomainClassifier`, AUC >= 0.55 and p < 0.05), on fewer
  windows since it costs more;
* the univariate drift rule the engine runs for ``kind: drift`` with its default
  statistic and threshold (:func:`monitor.rules.drift_kinds.evaluate_drift`), a window
  counting as flagged when any feature drifted.

Cost per window: each of the three on one window of ``--cost-rows`` rows x ``--features``
features, best of 3, in the same run.

Estimated performance: a calibrated logistic classifier on 5 inputs; the reference has
labels; each shifted window moves the inputs' mean (covariate shift, ``P(y | x)`` fixed).
The estimate (:class:`monitor.stats.estimation.PerformanceEstimator`) from scores alone is
compared with the accuracy realized from the window's labels. Also shown: the same with
miscalibrated raw scores (``score**3``, recalibrated on the reference), and under concept
drift (labels of 20 % of the window flipped), which estimation cannot see.

Last line: ``multivariate_detection: X univariate_detection: Y multivariate_far: Z
estimation_mae: W``. Run: ``.venv/bin/python bench/multivariate.py``.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import pandas as pd

from monitor.rules.drift_kinds import evaluate_drift
from monitor.rules.kind_interface import WindowData
from monitor.rules.model import Rule
from monitor.rules.reference_profiles import profile_frame
from monitor.rules.state import Outcome
from monitor.stats.estimation import PerformanceEstimator, realized_metrics
from monitor.stats.multivariate import DomainClassifier, PcaDrift, RowBlock

RHO = 0.8


def draw(rng: np.random.Generator, n: int, features: int, pairs: int, rho: float) -> np.ndarray:
    z = rng.normal(size=(n, features))
    for p in range(pairs):
        a, b = 2 * p, 2 * p + 1
        z[:, b] = rho * z[:, a] + np.sqrt(1 - rho**2) * z[:, b]
    return z


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


class Univariate:
    """The engine's ``kind: drift`` rule over all features, default statistic."""

    def __init__(self, names: tuple[str, ...], reference: np.ndarray) -> None:
        self.names = names
        self.rule = Rule.model_validate(
            {"name": "univariate", "kind": "drift", "reference": {"dataset": "training"}}
        )
        self.profile = profile_frame(pd.DataFrame(reference, columns=list(names)))

    def flagged(self, x: np.ndarray) -> bool:
        cur = WindowData(
            numeric={n: x[:, j] for j, n in enumerate(self.names)},
            kinds=dict.fromkeys(self.names, "numeric"),
            n_sampled=len(x),
            n_events=len(x),
        )
        results = evaluate_drift(self.rule, self.profile, cur)
        return any(r.outcome is Outcome.TRUE for r in results)


def multivariate(args: argparse.Namespace, rng: np.random.Generator) -> tuple[float, float, float]:
    names = tuple(f"f{i:02d}" for i in range(args.features))
    ref = draw(rng, args.reference_rows, args.features, args.pairs, RHO)
    t = time.perf_counter()
    pca = PcaDrift(RowBlock(names, ref))
    fit_pca = time.perf_counter() - t
    t = time.perf_counter()
    clf = DomainClassifier(RowBlock(names, ref))
    fit_clf = time.perf_counter() - t
    uni = Univariate(names, ref)
    print(
        f"reference: {args.reference_rows} rows x {args.features} features, {args.pairs} pairs "
        f"rho={RHO}; PCA keeps {pca.n_components} components "
        f"({pca.pca.explained_variance_ratio_.sum():.2f} of the variance); "
        f"fit: PCA {fit_pca:.2f} s, classifier {fit_clf:.2f} s"
    )

    counts = {"pca": [0, 0], "clf": [0, 0], "uni": [0, 0]}  # [flip flagged, null flagged]
    for w in range(args.drift_windows):
        flip = draw(rng, args.window_rows, args.features, args.pairs, args.flip_rho)
        counts["pca"][0] += pca.evaluate(RowBlock(names, flip)).drifted
        counts["uni"][0] += uni.flagged(flip)
        if w < args.classifier_windows:
            counts["clf"][0] += clf.evaluate(RowBlock(names, flip)).drifted
    for w in range(args.null_windows):
        same = draw(rng, args.window_rows, args.features, args.pairs, RHO)
        counts["pca"][1] += pca.evaluate(RowBlock(names, same)).drifted
        counts["uni"][1] += uni.flagged(same)
        if w < args.classifier_windows:
            counts["clf"][1] += clf.evaluate(RowBlock(names, same)).drifted
    n_clf_d = min(args.classifier_windows, args.drift_windows)
    n_clf_n = min(args.classifier_windows, args.null_windows)
    print(
        f"windows of {args.window_rows} rows: {args.drift_windows} with rho {RHO} -> "
        f"{args.flip_rho}, "
        f"{args.null_windows} no-drift ({n_clf_d} / {n_clf_n} for the classifier)"
    )
    print(f"{'detector':<22}{'detection':>10}{'false alarms':>14}")
    for label, key, nd, nn in (
        ("PCA reconstruction", "pca", args.drift_windows, args.null_windows),
        ("domain classifier", "clf", n_clf_d, n_clf_n),
        ("univariate drift", "uni", args.drift_windows, args.null_windows),
    ):
        print(f"{label:<22}{counts[key][0] / nd:>10.3f}{counts[key][1] / nn:>14.3f}")

    big = RowBlock(names, draw(rng, args.cost_rows, args.features, args.pairs, args.flip_rho))
    t_uni = best_of(lambda: uni.flagged(big.numeric))
    t_pca = best_of(lambda: pca.evaluate(big))
    t_clf = best_of(lambda: clf.evaluate(big))
    print(f"cost per window of {args.cost_rows} rows x {args.features} features (best of 3):")
    print(f"  univariate drift rule {t_uni:8.3f} s   (1.00x)")
    print(f"  PCA reconstruction    {t_pca:8.3f} s   ({t_pca / t_uni:.2f}x)")
    print(
        f"  domain classifier     {t_clf:8.3f} s   ({t_clf / t_uni:.2f}x; "
        f"{clf.max_rows} rows per side, {clf.folds} folds)"
    )
    return (
        counts["pca"][0] / args.drift_windows,
        counts["uni"][0] / args.drift_windows,
        counts["pca"][1] / args.null_windows,
    )


def classifier_data(rng: np.random.Generator, n: int, shift: float):
    weights = np.array([1.2, -0.8, 0.6, 0.4, -0.3])
    x = rng.normal(size=(n, 5)) + shift * np.array([1.0, 0.5, -0.5, 0.0, 0.0])
    score = 1.0 / (1.0 + np.exp(-(x @ weights - 0.2)))
    labels = (rng.uniform(size=n) < score).astype(np.float64)
    return score, labels


def estimation(args: argparse.Namespace, rng: np.random.Generator) -> float:
    s_ref, y_ref = classifier_data(rng, args.reference_rows, 0.0)
    calibrated = PerformanceEstimator(s_ref, y_ref)
    miscal = PerformanceEstimator(s_ref**3, y_ref)
    errors, errors_miscal, errors_concept, outside = [], [], [], 0
    shifts = np.linspace(-1.5, 1.5, args.estimation_windows)
    for shift in shifts:
        s, y = classifier_data(rng, args.estimation_rows, float(shift))
        real = realized_metrics(y, s)["accuracy"]
        result = calibrated.evaluate(s, "accuracy")
        outside += result.outside
        errors.append(abs(result.value - real))
        errors_miscal.append(
            abs(miscal.estimate(s**3)["accuracy"] - realized_metrics(y, s**3)["accuracy"])
        )
        flipped = y.copy()
        flip = rng.uniform(size=len(y)) < 0.2
        flipped[flip] = 1 - flipped[flip]
        errors_concept.append(abs(result.value - realized_metrics(flipped, s)["accuracy"]))
    mae = float(np.mean(errors))
    null_outside = 0
    for _ in range(args.estimation_null_windows):
        s, _ = classifier_data(rng, args.estimation_rows, 0.0)
        null_outside += calibrated.evaluate(s, "accuracy").outside
    print(
        f"estimation: reference {args.reference_rows} labelled rows (accuracy "
        f"{calibrated.reference_metrics['accuracy']:.3f}, Brier raw "
        f"{calibrated.calibration['brier_raw']:.4f} / calibrated "
        f"{calibrated.calibration['brier_calibrated']:.4f}); {len(shifts)} windows of "
        f"{args.estimation_rows} rows, input mean shifted by -1.5 .. 1.5"
    )
    print(f"  accuracy MAE, calibrated scores      {mae:.4f} (max {max(errors):.4f})")
    print(
        f"  band (1 % two-sided): left by {outside} of {len(shifts)} shifted windows, "
        f"{null_outside} of {args.estimation_null_windows} unshifted windows"
    )
    print(f"  accuracy MAE, scores**3 recalibrated {np.mean(errors_miscal):.4f}")
    print(
        f"  accuracy MAE under concept drift     {np.mean(errors_concept):.4f} "
        "(20 % of labels flipped: not estimable from scores)"
    )
    return mae


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument(
        "--flip-rho", type=float, default=-RHO, help="correlation of the pairs after the change"
    )
    parser.add_argument("--reference-rows", type=int, default=20_000)
    parser.add_argument("--window-rows", type=int, default=2000)
    parser.add_argument("--drift-windows", type=int, default=50)
    parser.add_argument("--null-windows", type=int, default=200)
    parser.add_argument("--classifier-windows", type=int, default=10)
    parser.add_argument("--cost-rows", type=int, default=100_000)
    parser.add_argument("--estimation-windows", type=int, default=30)
    parser.add_argument("--estimation-rows", type=int, default=5000)
    parser.add_argument("--estimation-null-windows", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rng = np.random.default_rng(args.seed)
    detection, univariate, far = multivariate(args, rng)
    mae = estimation(args, rng)
    print(
        f"multivariate_detection: {detection:.3f} univariate_detection: {univariate:.3f} "
        f"multivariate_far: {far:.3f} estimation_mae: {mae:.4f}"
    )


if __name__ == "__main__":
    main()
