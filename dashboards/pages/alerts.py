"""Alerts: filter, acknowledge, and manage silences."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402
from common import (  # noqa: E402
    SEVERITY_ORDER,
    against,
    client,
    fetch_list,
    fetch_or_stop,
    model_names,
    show_alert,
    show_receiver,
    sight_banner,
    times,
    write,
    write_access,
)

st.title("Alerts")
api = client()
write_access(api)
sight_banner()
models = model_names()
f1, f2, f3 = st.columns(3)
model = f1.selectbox("Model", ["(all)", *models], key="alerts_model")
severity = f2.selectbox("Severity", ["(all)", *SEVERITY_ORDER], key="alerts_severity")
states = f3.multiselect(
    "State", ["firing", "pending", "resolved"], default=["firing", "pending"], key="alerts_state"
)
data = fetch_or_stop(
    "/alerts",
    state=states or ["firing", "pending"],
    model=None if model == "(all)" else model,
    severity=None if severity == "(all)" else severity,
)
alerts = data["alerts"]
# a notification links here with ?alert=<id>: show that alert (and say so)
wanted_alert = st.query_params.get("alert")
if wanted_alert:
    alerts = [a for a in alerts if a["id"] == wanted_alert]
    st.caption(f"Showing alert {wanted_alert} only (from a notification link).")
if not alerts:
    st.success("No alert matches these filters.")
else:
    for a in alerts:
        if a["state"] in ("firing", "pending"):
            show_alert(a, a["model"])
    frame = pd.DataFrame(
        [
            {
                "state": "silenced" if a.get("silenced") else a["state"],
                "severity": a["severity"],
                "model": a["model"],
                "rule": a["rule"],
                "feature": a["feature"],
                "value (threshold)": against(a),
                "summary": (a.get("annotations") or {}).get("summary", ""),
                "since": a["active_since"],
                "resolved": a["resolved_at"],
                "acknowledged by": (a["acknowledged"] or {}).get("by", ""),
                "ack comment": (a["acknowledged"] or {}).get("comment", ""),
                "runbook": (a.get("annotations") or {}).get("runbook_url"),
                "notifications": ", ".join(a.get("notifications") or []),
                "id": a["id"],
            }
            for a in alerts
        ]
    )
    st.dataframe(
        times(frame, "since", "resolved"),
        hide_index=True,
        use_container_width=True,
        column_config={
            "runbook": st.column_config.LinkColumn("runbook"),
            "notifications": st.column_config.TextColumn(
                "notifications", help="ids of the notifications that carried this alert"
            ),
        },
    )

st.subheader("Receivers")
receivers = fetch_or_stop("/receivers")["receivers"]
if not receivers:
    st.caption("No receiver configured.")
for r in receivers:
    show_receiver(r)

st.subheader("Acknowledge")
active = [a for a in alerts if a["state"] in ("firing", "pending")]
if not api.can_write:
    st.caption("Read-only: enter your API token in the sidebar to acknowledge and silence.")
if active:
    with st.form("ack"):
        labels = {
            f"{a['model']} / {a['rule']} / {a['feature'] or '-'} ({a['state']})": a["id"]
            for a in active
        }
        chosen = st.selectbox("Alert", list(labels))
        by = st.text_input("Your name", key="ack_by")
        comment = st.text_input("Comment")
        if st.form_submit_button("Acknowledge", disabled=not api.can_write):
            ack = {"by": by, "comment": comment}
            write(lambda: api.post(f"/alerts/{labels[chosen]}/acknowledge", ack), "Acknowledged.")
else:
    st.caption("Nothing to acknowledge.")

st.subheader("Silences")
silences = fetch_list("/silences", "silences", include_expired=True)
if not silences:
    st.caption("No silence yet.")
for s in silences:
    c1, c2 = st.columns([5, 1])
    c1.markdown(
        f"**{s['state']}** `{', '.join(s['matchers'])}` until {s['ends_at']} "
        f"by {s['created_by']} {('- ' + s['comment']) if s['comment'] else ''}"
    )
    if s["state"] != "expired" and c2.button(
        "Expire", key=f"expire-{s['id']}", disabled=not api.can_write
    ):
        if write(lambda s=s: api.delete(f"/silences/{s['id']}")):
            st.rerun()
with st.form("silence"):
    st.markdown("**New silence**")
    default = f'model="{model}"' if model != "(all)" else 'model="..."'
    matchers = st.text_input("Matchers (comma separated)", value=default)
    duration = st.text_input("Duration (e.g. 30m, 2h, 1d)", value="2h")
    by = st.text_input("Created by", key="silence_by")
    comment = st.text_input("Comment", key="silence_comment")
    if st.form_submit_button("Create silence", disabled=not api.can_write):
        body = {
            "matchers": [m.strip() for m in matchers.split(",") if m.strip()],
            "duration": duration,
            "created_by": by,
            "comment": comment,
        }
        write(lambda: api.post("/silences", body), "Silence created.")
