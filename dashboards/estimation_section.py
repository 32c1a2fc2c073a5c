"""Model page section: the multivariate drift statistic and estimated vs realized
performance over time, each with the band it was held against.

A pure client of ``GET /api/v1/models/{model}/estimation`` (monitor/api/routes/estimation.py).
Kept out of pages/model.py so that page stays a list of its sections.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from common import fetch, number, times

TITLE = "Multivariate drift and estimated performance"


def _frame(points: list[dict]) -> pd.DataFrame:
    frame = times(pd.DataFrame(points), "window_end")
    for column in ("value", "lower", "upper", "realized"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def _band_chart(frame: pd.DataFrame, title: str) -> alt.LayerChart:
    """The value as a line over the shaded band; windows that alarmed in red."""
    base = alt.Chart(frame).encode(x=alt.X("window_end:T", title="window end"))
    tooltip = ["window_end:T", "value:Q", "lower:Q", "upper:Q", "threshold:Q", "decision:N"]
    band = (
        base.transform_filter("isValid(datum.lower) && isValid(datum.upper)")
        .mark_area(opacity=0.2, color="#1f77b4")
        .encode(y=alt.Y("lower:Q", title=title), y2="upper:Q")
    )
    line = base.mark_line(point=True, color="#1f77b4").encode(y="value:Q", tooltip=tooltip)
    fired = frame[frame["decision"] == "true"]
    alarms = (
        alt.Chart(fired)
        .mark_point(color="#d62728", size=90, filled=True)
        .encode(x="window_end:T", y="value:Q", tooltip=tooltip)
    )
    return band + line + alarms


def _multivariate(series: dict) -> None:
    frame = _frame(series["points"])
    st.markdown(f"**{series['rule']}** ({series['statistic']}): value and band per window")
    st.altair_chart(_band_chart(frame, series["statistic"]), use_container_width=True)
    latest = series["points"][-1]
    shares = latest.get("contributions") or {}
    if shares:
        named = ", ".join(f"{name} {share:.0%}" for name, share in shares.items())
        st.caption(f"Top contributing features in the latest window: {named}")


def _estimated(series: dict) -> None:
    frame = _frame(series["points"])
    metric = series["statistic"].removeprefix("estimated_")
    st.markdown(f"**{series['rule']}**: estimated vs realized {metric} per window")
    chart = _band_chart(frame, metric)
    labelled = frame[frame["realized"].notna()] if "realized" in frame else frame.iloc[:0]
    if not labelled.empty:
        realized = (
            alt.Chart(labelled)
            .mark_line(point=True, color="#2ca02c", strokeDash=[4, 2])
            .encode(
                x="window_end:T",
                y="realized:Q",
                tooltip=["window_end:T", "realized:Q", "n_labelled:Q", "realized_source:N"],
            )
        )
        chart = chart + realized
    st.altair_chart(chart, use_container_width=True)
    latest = series["points"][-1]
    text = (
        f"Latest window: estimated {number(latest['value'])} "
        f"(band {number(latest['lower'])} to {number(latest['upper'])})"
    )
    if latest.get("realized") is not None:
        text += f", realized {number(latest['realized'])} on {latest['n_labelled']} labels"
    else:
        text += ", no label yet"
    st.caption(f"{text}. Blue: estimate and band; green dashed: realized from labels.")


def estimation_section(model: str, hours: int) -> None:
    """The section for ``model`` over the last ``hours``."""
    st.subheader(TITLE)
    start = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=hours)).isoformat()
    body = fetch(f"/models/{model}/estimation", start=start)
    if body is None:
        return  # fetch showed the error
    multivariate = body.get("multivariate", [])
    estimated = body.get("estimated_performance", [])
    if not multivariate and not estimated:
        st.caption("No multivariate or estimated_performance rule evaluated for this model.")
        return
    for series in multivariate:
        _multivariate(series)
    for series in estimated:
        _estimated(series)
