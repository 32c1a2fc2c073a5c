"""Multivariate drift: PCA reconstruction error and the domain classifier."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy import stats

from monitor.stats import multivariate, null_band
from monitor.stats.multivariate import DomainClassifier, PcaDrift, RowBlock, RowEncoder

NAMES = tuple(f"x{i}" for i in range(8))


def correlated(n: int, rho: float, seed: int) -> np.ndarray:
    """8 standard-normal features; pairs (x0,x1), (x2,x3), (x4,x5) have correlation rho."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 8))
    for a in (0, 2, 4):
        z[:, a + 1] = rho * z[:, a] + np.sqrt(1 - rho**2) * z[:, a + 1]
    return z


@pytest.fixture(scope="module")
def reference() -> RowBlock:
    return RowBlock(NAMES, correlated(6000, 0.8, seed=1))


@pytest.fixture(scope="module")
def pca(reference) -> PcaDrift:
    return PcaDrift(reference)


@pytest.fixture(scope="module")
def classifier(reference) -> DomainClassifier:
    return DomainClassifier(reference, max_rows=1500)


def test_correlation_flip_keeps_marginals_but_pca_and_classifier_fire(pca, classifier, reference):
    flipped = correlated(1500, -0.8, seed=2)
    # every marginal is still standard normal: a per-feature KS test sees nothing
    ks_p = [stats.ks_2samp(reference.numeric[:, j], flipped[:, j]).pvalue for j in range(8)]
    assert min(ks_p) * 8 > 0.05  # Bonferroni over the 8 features
    current = RowBlock(NAMES, flipped)
    res = pca.evaluate(current)
    assert res.drifted and res.value > res.upper
    assert set(res.contributions) <= {"x0", "x1", "x2", "x3", "x4", "x5"}
    assert res.contributions and abs(sum(res.contributions.values()) - 1.0) < 0.2
    clf = classifier.evaluate(current)
    assert clf.drifted and clf.value > 0.6 and clf.p_value < 1e-6
    assert set(list(clf.contributions)[:3]) <= {"x0", "x1", "x2", "x3", "x4", "x5"}


def test_no_drift_windows_stay_quiet(pca, classifier):
    fired_pca = fired_clf = 0
    for seed in range(10, 20):
        current = RowBlock(NAMES, correlated(1500, 0.8, seed=seed))
        r = pca.evaluate(current)
        assert r.lower < r.details["reference_error"] < r.upper
        fired_pca += r.drifted
        if seed < 13:  # the classifier costs more; three windows suffice
            c = classifier.evaluate(current)
            assert 0.4 < c.value < 0.55 and c.contributions == {}
            fired_clf += c.drifted
    assert fired_pca == 0 and fired_clf == 0


def test_pca_is_deterministic_and_caches_the_band(reference):
    a, b = PcaDrift(reference), PcaDrift(reference)
    current = RowBlock(NAMES, correlated(800, 0.0, seed=3))
    ra, rb = a.evaluate(current), b.evaluate(current)
    assert ra == rb
    assert a.band(800) is a.band(800)


def test_classifier_is_deterministic(classifier):
    current = RowBlock(NAMES, correlated(900, 0.8, seed=4) + 0.5)
    assert classifier.evaluate(current) == classifier.evaluate(current)


def test_pca_refuses_one_feature_and_bad_settings():
    one = RowBlock(("a",), np.zeros((100, 1)))
    with pytest.raises(ValueError, match="at least 2 features; the reference has 1"):
        PcaDrift(one)
    two = RowBlock(("a", "b"), np.random.default_rng(0).normal(size=(100, 2)))
    with pytest.raises(ValueError, match="variance_share"):
        PcaDrift(two, variance_share=1.0)
    with pytest.raises(ValueError, match="reference rows"):
        PcaDrift(RowBlock(("a", "b"), np.zeros((10, 2))))


def test_window_with_other_features_is_a_clear_error(pca):
    with pytest.raises(ValueError, match="differ from the reference"):
        pca.evaluate(RowBlock(("a", "b"), np.zeros((5, 2))))


def test_empty_window_is_insufficient_not_an_error(pca, classifier):
    empty = RowBlock(NAMES, np.empty((0, 8)))
    for res in (pca.evaluate(empty), classifier.evaluate(empty)):
        assert res.insufficient and not res.drifted and np.isnan(res.value)


def test_encoder_imputes_and_frequency_encodes_like_the_reference():
    ref = RowBlock(
        ("n",),
        np.array([[1.0], [np.nan], [3.0], [np.inf]]),
        ("c",),
        np.array([["a"], ["a"], ["b"], [None]], dtype=object),
    )
    enc = RowEncoder(ref)
    assert enc.medians.tolist() == [2.0]
    cur = RowBlock(("n",), np.array([[np.nan], [5.0]]), ("c",), np.array([[None], ["zz"]], object))
    raw = enc._raw(cur, impute=True)
    # missing number -> median; missing category -> the mode's share (a: 2/3); unseen -> 0
    assert raw[:, 0].tolist() == [2.0, 5.0]
    assert raw[:, 1].tolist() == pytest.approx([2 / 3, 0.0])
    kept = enc._raw(cur, impute=False)
    assert np.isnan(kept[0]).all()


def test_pca_sees_a_new_category_cluster():
    rng = np.random.default_rng(5)
    n = 4000
    x = rng.normal(size=(n, 3))
    cat = np.where(x[:, 0] > 0, "hi", "lo").astype(object).reshape(-1, 1)
    ref = RowBlock(("a", "b", "c"), x, ("side",), cat)
    model = PcaDrift(ref, variance_share=0.5)
    same = model.evaluate(ref.take(np.arange(1000)))
    assert not same.drifted
    # the category no longer follows the sign of a: the joint structure broke
    y = rng.normal(size=(1000, 3))
    wrong = np.where(y[:, 0] > 0, "lo", "hi").astype(object).reshape(-1, 1)
    moved = model.evaluate(RowBlock(("a", "b", "c"), y, ("side",), wrong))
    assert moved.drifted and "side" in moved.contributions


def test_from_frame_splits_kinds():
    import pandas as pd

    frame = pd.DataFrame({"a": [1.0, None], "b": ["x", None], "c": [2, 3]})
    block = RowBlock.from_frame(frame, {"a": "numeric", "b": "categorical", "c": "numeric"})
    assert block.numeric_names == ("a", "c") and block.categorical_names == ("b",)
    assert np.isnan(block.numeric[1, 0]) and block.categorical[1, 0] is None


def test_null_band_holds_its_rate_and_narrows_with_the_window():
    x = np.random.default_rng(7).normal(size=20_000)
    small = null_band.null_bands(
        lambda i: {"m": float(x[i].mean())}, len(x), 100, 0.02, seed=0, what="x"
    )["m"]
    large = null_band.null_bands(
        lambda i: {"m": float(x[i].mean())}, len(x), 400, 0.02, seed=0, what="x"
    )["m"]
    # the mean of n standard normals: +-2.33/sqrt(n) at a 2 % two-sided rate
    assert small.upper == pytest.approx(2.33 / 10, rel=0.15)
    assert (large.upper - large.lower) == pytest.approx((small.upper - small.lower) / 2, rel=0.2)
    with pytest.raises(ValueError, match="needs at least 1000 distinct null windows"):
        null_band.null_bands(lambda i: {"m": 0.0}, 500, 10, 0.001, seed=0, what="x")


@pytest.mark.parametrize("module", [multivariate, null_band], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
