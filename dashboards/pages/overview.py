"""Overview: every model with its status, firing alerts and traffic, at a glance."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402
from common import (  # noqa: E402
    STATUS_COLOUR,
    ago,
    fetch_list,
    fetch_or_stop,
    number,
    refresh_seconds,
    sight_banner,
    when,
)

st.title("Driftline: models")


def shown_status(m: dict) -> str:
    """What the card says: a firing alert first; "OK" only while Driftline sees."""
    if m["status"] != "ok":
        return m["status"]
    if m.get("evaluation") == "not evaluating":
        return "not evaluating"
    if m.get("data") == "no data":
        return "no data"
    return "ok"


def what_fires(firing: int) -> dict[str, list[str]]:
    """What fires, per model: the card names the rules and features, not only a count."""
    out: dict[str, list[str]] = {}
    if firing:
        for a in fetch_list("/alerts", "alerts", state=["firing"]):
            quiet = " (silenced)" if a.get("silenced") else ""
            out.setdefault(a["model"], []).append(
                f"{a['rule']} on {a['feature'] or 'the model'} ({number(a['value'])}){quiet}"
            )
    return out


def model_card(m: dict, fires: list[str]) -> None:
    """One model's card: its status, what fires, its traffic and its last evaluation."""
    shown = shown_status(m)
    colour = STATUS_COLOUR.get(m["status"], "gray") if shown == m["status"] else "orange"
    with st.container(border=True):
        head, a, b, c, d = st.columns([3, 2, 2, 2, 2])
        head.markdown(f"### :{colour}[●] {m['model']}")
        head.markdown(f":{colour}-background[{shown.upper()}]")
        if m.get("evaluation") == "not evaluating":
            head.caption(f"not evaluating since {when(m.get('not_evaluating_since'))}")
        if m.get("data") == "no data":
            head.caption(f"no data since {when(m.get('no_events_since'))}")
        if m["firing"]:
            a.metric("Firing", m["firing"], help="firing alerts")
            a.caption(f"since {ago(m['firing_since'])}")
            if fires:
                head.markdown("Firing: " + "; ".join(fires))
        else:
            a.metric("Pending", m["pending"])
        b.metric("Events / min", f"{m['event_rate_per_min']:.1f}")
        b.caption(f"last event {ago(m['last_event'])}")
        c.metric("Sampled (1 h)", m["sampled_last_hour"])
        c.caption(f"of {m['events_last_hour']} events")
        d.metric("Features", m["features"])
        d.caption(f"last evaluation {ago(m['last_evaluation'])}")
        if m["events_last_hour"] == 0:
            st.warning(f"No events from {m['model']} in the last hour: is the producer running?")


TABLE_COLUMNS = [
    "model",
    "status",
    "firing",
    "pending",
    "event_rate_per_min",
    "sampled_last_hour",
    "last_evaluation",
]


@st.fragment(run_every=refresh_seconds())
def overview() -> None:
    sight_banner()
    data = fetch_or_stop("/models")
    models = data["models"]
    if not models:
        st.info(
            "No data yet: no model has sent an event. Is the producer running, and is "
            "the daemon reading the right Kafka topic?"
        )
        return
    firing = sum(m["firing"] for m in models)
    fires = what_fires(firing)
    c1, c2, c3 = st.columns(3)
    c1.metric("Models", len(models))
    c2.metric("Firing alerts", firing)
    c3.metric("Dead letters", data["dead_letters"])
    for m in models:
        model_card(m, fires.get(m["model"], []))
    with st.expander("As a table"):
        st.dataframe(pd.DataFrame(models)[TABLE_COLUMNS], hide_index=True, use_container_width=True)


overview()
