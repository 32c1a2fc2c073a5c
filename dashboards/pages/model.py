"""One model: drift heatmap, distributions, rule results, data quality, alerts, notifications,
and the Evidently drill-down."""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import altair as alt  # noqa: E402
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402
from common import (  # noqa: E402
    client,
    fetch_list,
    fetch_or_stop,
    model_sight_notes,
    models_overview,
    number,
    refresh_seconds,
    show_alert,
    sight_banner,
    times,
)
from driftline_client import ApiError  # noqa: E402
from estimation_section import estimation_section  # noqa: E402
from notifications_section import notifications_section  # noqa: E402

MAX_DISTRIBUTIONS = 8

st.title("Model")
sight_banner()
overview = {m["model"]: m for m in models_overview()}
models = list(overview)
if not models:
    st.info("No data yet: no model has sent an event. Is the producer running?")
    st.stop()
wanted = st.query_params.get("model", models[0])
model = st.selectbox("Model", models, index=models.index(wanted) if wanted in models else 0)
st.query_params["model"] = model
# Blind for this model (nothing evaluated, no events): said before any chart, so a calm
# page is never read as "all is well" (the alerts shown are the last known state).
for note in model_sight_notes(overview[model]):
    st.warning(
        f"**{model}: {note}**; its alerts below are the last known state.",
        icon=":material/visibility_off:",
    )
hours = st.sidebar.selectbox(
    "Time range", [6, 24, 72, 168], index=1, format_func=lambda h: f"{h} h"
)


# A cell's colour is the rule's own decision for that window, so the heatmap and the
# rule results chart below (same rows, same windows) can never disagree.
DECISION_COLOURS = {
    "drift": "#d62728",
    "no drift": "#2ca02c",
    "too few values": "#bdbdbd",
}
DECISIONS = {"true": "drift", "false": "no drift", "insufficient_data": "too few values"}


def heatmap_cells(results: pd.DataFrame) -> pd.DataFrame:
    """One cell per evaluated (rule, feature, window) of the drift rules: from its
    window's start to its end, so hours nothing evaluated stay blank."""
    drift = results[(results["section"] == "drift") & (results["feature"] != "")].copy()
    if drift.empty:
        return drift
    times(drift, "window_start", "window_end")
    several = drift["rule"].nunique() > 1
    drift["row"] = drift["feature"] + (" · " + drift["rule"] if several else "")
    # Windows overlap (a 1 h window every 5 min): a cell covers one evaluation step, the
    # row's usual spacing, ending at its window's end, so a missed evaluation is a gap.
    drift = drift.sort_values("window_end")
    spacing = drift.groupby("row")["window_end"].diff()
    step = spacing.groupby(drift["row"]).transform("median")
    length = drift["window_end"] - drift["window_start"]
    drift["cell_start"] = drift["window_end"] - step.where(step < length, length).fillna(length)
    drift["decided"] = drift["decision"].map(DECISIONS).fillna(drift["decision"])
    drift["value_shown"] = drift["value"].map(number)
    drift["threshold_shown"] = drift["threshold"].map(number)
    if "threshold_source" not in drift:
        drift["threshold_source"] = ""
    return drift


def heatmap(results: pd.DataFrame) -> None:
    # sections come from the daemon's kinds table (the API's "section" of each result)
    drift = heatmap_cells(results)
    if drift.empty:
        st.caption("No drift results yet: rules evaluate every interval once data is there.")
        return
    chart = (
        alt.Chart(drift)
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X("cell_start:T", title="evaluation (UTC)", axis=alt.Axis(format="%H:%M")),
            x2="window_end:T",
            y=alt.Y("row:N", title=None, axis=alt.Axis(labelLimit=0)),
            color=alt.Color(
                "decided:N",
                title="decision",
                scale=alt.Scale(
                    domain=list(DECISION_COLOURS), range=list(DECISION_COLOURS.values())
                ),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                "feature",
                "rule",
                "statistic",
                alt.Tooltip("value_shown:N", title="value"),
                alt.Tooltip("threshold_shown:N", title="threshold"),
                alt.Tooltip("threshold_source:N", title="threshold source"),
                alt.Tooltip("decided:N", title="decision"),
                alt.Tooltip("window_start:T", format="%Y-%m-%d %H:%M", title="from"),
                alt.Tooltip("window_end:T", format="%Y-%m-%d %H:%M", title="to"),
            ],
        )
    )
    st.altair_chart(chart, use_container_width=True)
    st.caption(
        "One cell per evaluation, ending at its window's end; blank where nothing was "
        "evaluated. Colour: the rule's decision against its threshold (fixed or calibrated, "
        "in the tooltip with the window it read)."
    )


RULES_OWN = "each rule's own reference"
PREVIOUS = "the previous window"


def rule_references(rules: list[dict], feature_names: list[str]) -> dict[str, dict]:
    """Feature -> the reference of the first drift rule that covers it on this model."""
    out: dict[str, dict] = {}
    for r in rules:
        if r.get("kind") != "drift" or not r.get("reference"):
            continue
        if not fnmatch.fnmatchcase(model, r.get("model") or "*"):
            continue
        features = r.get("features", "all")
        for name in feature_names if features == "all" else features:
            out.setdefault(name, {**r["reference"], "rule": r["rule"]})
    return out


def reference_query(choice: str, spec: dict | None) -> tuple[dict, str]:
    """Query parameters for the distribution endpoint, and what the chart compares with."""
    if choice == PREVIOUS or (choice == RULES_OWN and spec is None):
        return {}, PREVIOUS
    if choice != RULES_OWN:
        return {"reference": choice}, f"reference {choice}"
    if "dataset" in spec:
        return {"reference": spec["dataset"]}, f"reference {spec['dataset']} (rule {spec['rule']})"
    params = {"offset": spec["offset"], "reference_window": spec["window"]}
    end = pd.Timestamp.now(tz="UTC")
    params["start"] = (end - pd.Timedelta(seconds=int(spec["window"][:-1]))).isoformat()
    return params, f"offset {spec['offset']} (rule {spec['rule']})"


def distributions(features: list[dict], choice: str, refs: dict[str, dict]) -> None:
    cols = st.columns(2)
    for i, f in enumerate(features[:MAX_DISTRIBUTIONS]):
        params, compared = reference_query(choice, refs.get(f["name"]))
        where = cols[i % 2]
        try:
            d = client().get(f"/models/{model}/features/{f['name']}/distribution", **params)
        except ApiError as exc:
            where.warning(f"**{f['name']}**: no reference values for {compared}: {exc}")
            continue
        n_ref, n_cur = d["reference"]["n"], d["current"]["n"]
        if d["kind"] == "numeric":
            edges = d["edges"]
            labels = [f"{edges[j]:.3g}" for j in range(len(edges) - 1)]
        else:
            labels = d["categories"]
        if not n_ref:
            where.warning(f"**{f['name']}**: no reference values in {d['reference']['name']}.")
        if not labels:
            where.caption(f"{f['name']}: no values on either side.")
            continue
        frame = pd.DataFrame(
            {
                "bin": labels * 2,
                "order": list(range(len(labels))) * 2,
                "count": d["reference_counts"] + d["current_counts"],
                "side": ["reference"] * len(labels) + ["current"] * len(labels),
            }
        )
        frame["share"] = frame["count"] / frame.groupby("side")["count"].transform("sum").clip(1)
        title = f"{f['name']}: {d['reference']['name']} (n={n_ref}) vs current (n={n_cur})"
        chart = (
            alt.Chart(frame, title=title)
            .mark_bar(opacity=0.6)
            .encode(
                x=alt.X("bin:N", sort=alt.SortField("order"), title=None),
                y=alt.Y("share:Q", stack=None, axis=alt.Axis(format="%")),
                color=alt.Color("side:N", scale=alt.Scale(range=["#1f77b4", "#d62728"])),
                xOffset="side:N",
                tooltip=["bin", "side", "count", alt.Tooltip("share:Q", format=".1%")],
            )
        )
        where.altair_chart(chart, use_container_width=True)
    if len(features) > MAX_DISTRIBUTIONS:
        st.caption(f"First {MAX_DISTRIBUTIONS} of {len(features)} features shown.")


RESULT_COLUMNS = ["kind", "section", "feature", "rule", "value", "window_end"]


def load_results() -> pd.DataFrame:
    """Every rule result of the chosen time range, one row per (rule, feature, window)."""
    start = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=hours)).isoformat()
    series = fetch_list(f"/models/{model}/results", "series", start=start)
    points = [p for s in series for p in s["points"]]
    results = (
        times(pd.DataFrame(points), "window_end")
        if points
        else pd.DataFrame(columns=RESULT_COLUMNS)
    )
    if "section" not in results:  # a daemon older than the kinds table's sections
        results["section"] = ""
    return results


def traffic(info: dict) -> None:
    a = st.columns(4)
    a[0].metric("Events (1 h)", info["events_last_hour"])
    a[1].metric("Sampled (1 h)", info["sampled_last_hour"])
    a[2].metric("Events / min", f"{info['event_rate_per_min']:.1f}")
    a[3].metric("Features", len(info["features"]))
    if not info["events_last_hour"]:
        st.warning(f"No events from {model} in the last hour: is the producer running?")


def compare_distributions(info: dict) -> None:
    named = [r["name"] for r in info.get("references", [])]
    choice = st.selectbox("Compare with", [RULES_OWN, PREVIOUS, *named], key="compare_with")
    names = [f["name"] for f in info["features"]]
    refs = rule_references(fetch_list("/rules", "rules"), names)
    distributions(info["features"], choice, refs)


def results_over_time(results: pd.DataFrame) -> None:
    if results.empty:
        st.caption("No rule result yet for this model.")
        return
    series = results.assign(series=results["rule"] + " " + results["feature"])
    tooltip = [
        "rule",
        "feature",
        "statistic",
        alt.Tooltip("value:Q", format=".3g"),
        alt.Tooltip("threshold:Q", format=".3g"),
        "decision",
    ]
    if "threshold_source" in series:  # fixed, or calibrated from the reference (its rate)
        tooltip += ["threshold_source", "calibration_rate"]
    base = alt.Chart(series).encode(x="window_end:T", color="series:N")
    values = base.mark_line(point=True).encode(y="value:Q", tooltip=tooltip)
    # each series' threshold over time, dashed: with calibrated rules it is the band the
    # reference's own windows stay within at the stated false-alarm rate
    band = base.mark_line(strokeDash=[4, 3], opacity=0.6).encode(y="threshold:Q")
    fired = series[series["decision"] == "true"] if "decision" in series else series.iloc[:0]
    alarms = (
        alt.Chart(fired)
        .mark_point(color="#d62728", size=90, filled=True)
        .encode(x="window_end:T", y="value:Q", tooltip=tooltip)
    )
    st.altair_chart(values + band + alarms, use_container_width=True)


def data_quality(results: pd.DataFrame) -> None:
    quality = results[results["section"] == "quality"] if not results.empty else results
    if quality.empty:
        st.caption("No data-quality rule evaluated for this model.")
        return
    latest = quality.sort_values("window_end").groupby(["rule", "feature"]).tail(1)
    shown = ["rule", "feature", "kind", "statistic", "value", "threshold", "decision"]
    latest = latest.assign(
        value=latest["value"].map(number), threshold=latest["threshold"].map(number)
    )
    st.dataframe(latest[[*shown, "window_end"]], hide_index=True)


def alert_timeline() -> None:
    alerts = fetch_list("/alerts", "alerts", state=["firing", "pending", "resolved"], model=model)
    if not alerts:
        st.success("No alert for this model.")
        return
    frame = times(pd.DataFrame(alerts), "active_since", "resolved_at")
    frame["end"] = frame["resolved_at"].fillna(pd.Timestamp.now(tz="UTC"))
    # one row per alert key: rule, feature and group in full, so two rows never read alike
    frame["label"] = (
        frame["rule"]
        + " / "
        + frame["feature"].replace("", "(model)")
        + " ["
        + frame["group"]
        + "]"
    )
    silenced = frame["silenced"].fillna(False).astype(bool) if "silenced" in frame else False
    frame["shown_state"] = frame["state"].mask(
        silenced & (frame["state"] != "resolved"), "silenced"
    )
    frame["value_shown"] = frame["value"].map(number)
    colours = alt.Scale(
        domain=["firing", "pending", "silenced", "resolved"],
        range=["#d62728", "#ff7f0e", "#7f7f7f", "#2ca02c"],
    )
    st.altair_chart(
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("active_since:T", title=None),
            x2="end:T",
            y=alt.Y("label:N", title=None, axis=alt.Axis(labelLimit=0)),
            color=alt.Color(
                "shown_state:N", title="state", scale=colours, legend=alt.Legend(orient="bottom")
            ),
            tooltip=[
                "rule",
                "feature",
                alt.Tooltip("shown_state:N", title="state"),
                "severity",
                alt.Tooltip("value_shown:N", title="value"),
                "active_since",
                "id",
            ],
        ),
        use_container_width=True,
    )
    for a in alerts:
        if a["state"] == "firing":
            show_alert(a, model)
    drill_down(alerts)


@st.fragment(run_every=refresh_seconds())
def page() -> None:
    info = fetch_or_stop(f"/models/{model}")
    results = load_results()
    traffic(info)
    st.subheader("Drift heatmap (features x time)")
    heatmap(results)
    st.subheader("Reference vs current (last hour)")
    compare_distributions(info)
    st.subheader("Rule results over time")
    results_over_time(results)
    st.subheader("Data quality")
    data_quality(results)
    estimation_section(model, hours)
    st.subheader("Alert timeline")
    alert_timeline()
    st.subheader("Notifications sent")
    notifications_section(model)


def drill_down(alerts: list[dict]) -> None:
    drift = [a for a in alerts if a["state"] == "firing" and a["rule"] and a["active_since"]]
    if not drift:
        return
    st.markdown("**Evidently drill-down**")
    options = {
        f"{a['rule']} / {a['feature']} ({a['last_evaluation'] or a['active_since']})": a
        for a in drift
    }
    chosen = options[st.selectbox("Alert", list(options), key="report_alert")]
    if st.button("Build Evidently report", key="build_report"):
        end = chosen["last_evaluation"] or chosen["active_since"]
        start = (pd.Timestamp(end) - pd.Timedelta(hours=1)).isoformat()
        with st.spinner("Building the report..."):
            try:
                st.session_state["report"] = client().report_html(model, start, end, None)
            except ApiError as exc:
                st.error(str(exc))
    html = st.session_state.get("report")
    if html:
        st.download_button(
            "Download report (HTML)", html, file_name=f"driftline-{model}.html", mime="text/html"
        )
        st.components.v1.html(html, height=800, scrolling=True)


page()
