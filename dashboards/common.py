"""Helpers shared by the dashboard's pages: the client, refresh, colours, times."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import streamlit as st
from driftline_client import ApiClient, ApiError, client_from_env

STATUS_COLOUR = {"firing": "red", "pending": "orange", "ok": "green"}
SEVERITY_ORDER = ("critical", "warning", "info")


def client() -> ApiClient:
    if "api" not in st.session_state:
        st.session_state["api"] = client_from_env()
    return st.session_state["api"]


def refresh_seconds() -> int | None:
    """Auto-refresh interval chosen in the sidebar (None = off)."""
    choice = st.sidebar.selectbox("Auto-refresh", ["30 s", "10 s", "60 s", "off"], key="refresh")
    return None if choice == "off" else int(choice.split()[0])


def fetch(path: str, **params) -> dict | None:
    """GET from the API; shows the error and returns None when it fails."""
    try:
        return client().get(path, **params)
    except ApiError as exc:
        st.error(str(exc))
        return None


def ago(value: str | None) -> str:
    """``'12 min ago'`` for an ISO time from the API."""
    if not value:
        return "never"
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    seconds = (datetime.now(timezone.utc) - t).total_seconds()
    if seconds < 90:
        return f"{max(0, int(seconds))} s ago"
    if seconds < 5400:
        return f"{int(seconds // 60)} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


def times(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for c in columns:
        if c in frame:
            frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame
