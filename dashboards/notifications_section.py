"""Model page section: the notifications that carried the model's alerts, each read with
its receiver's delivery state (last success, failing since, attempts), so a page stuck
behind a failing webhook is never shown as a bare "pending".

Kept out of pages/model.py so that page stays a list of its sections.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from common import delivery, fetch_list, show_receiver


def notifications_section(model: str) -> None:
    """The notifications that carried this model's alerts, with how each fared."""
    notes = fetch_list("/notifications", "notifications", model=model)
    if not notes:
        st.caption("No notification for this model yet.")
        return
    receivers = {r["receiver"]: r for r in fetch_list("/receivers", "receivers")}
    for name in sorted({n["receiver"] for n in notes}):
        if name in receivers:
            show_receiver(receivers[name])
    frame = pd.DataFrame(notes)
    frame["status"] = [delivery(n, receivers) for n in notes]
    if "alert_ids" not in frame:  # a daemon older than the alert ids of notifications
        frame["alert_ids"] = [[] for _ in range(len(frame))]
    # a link to the Alerts page showing the (first) alert the notification carried
    frame["alert_link"] = frame["alert_ids"].map(
        lambda ids: f"alerts?alert={ids[0]}" if ids else None
    )
    frame["alert_ids"] = frame["alert_ids"].map(", ".join)
    shown = ["created_at", "receiver", "kind", "alert_status", "status", "id", "alert_ids"]
    shown.append("alert_link")
    st.dataframe(
        frame[shown],
        hide_index=True,
        column_config={
            "id": "notification id",
            "alert_ids": st.column_config.TextColumn(
                "alerts carried", help="alert ids, as on the Alerts page"
            ),
            "alert_link": st.column_config.LinkColumn("alert", display_text="open alert"),
        },
    )
