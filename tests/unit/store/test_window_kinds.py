"""``window_reads.FeatureWindow.kinds``: the kind most of a feature's values have in the
window (numbers win a tie); a feature whose values are all missing has no kind."""

from __future__ import annotations

from monitor.store.window_reads import FeatureWindow


def test_kinds_follow_the_majority_of_values() -> None:
    window = FeatureWindow(
        counts={
            "amount": (90, 0),
            "country": (0, 90),
            "mixed": (60, 30),
            "mostly_text": (30, 60),
            "tie": (45, 45),
            "all_missing": (0, 0),
        }
    )
    assert window.kinds == {
        "amount": "numeric",
        "country": "categorical",
        "mixed": "numeric",
        "mostly_text": "categorical",
        "tie": "numeric",
    }
    assert FeatureWindow().kinds == {}
