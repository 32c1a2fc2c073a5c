"""Helpers shared by the dashboard's pages: the client, refresh, colours, times."""

from __future__ import annotations

from collections.abc import Callable
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


def write_access(api: ApiClient) -> None:
    """The sidebar field where a person enters their own API token to write.

    Read-only until then; the token is kept in this browser session only (never in the
    dashboard's environment, never shown again) and sent only with write requests, which
    the daemon checks like any other client's.
    """
    token = st.sidebar.text_input(
        "API token (to acknowledge and silence)",
        type="password",
        key="api_token",
        help="Your Driftline API token; the dashboard is read-only without it.",
    )
    api.use_token(token or None)


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


def fetch_list(path: str, key: str, **params) -> list:
    """The list under ``key`` of a GET; empty (with the error shown) when it fails."""
    body = fetch(path, **params)
    return [] if body is None else body[key]


def write(action: Callable[[], object], done: str | None = None) -> bool:
    """Run one write request (acknowledge, silence, expire); show ``done`` or the error."""
    try:
        action()
    except ApiError as exc:
        st.error(str(exc))
        return False
    if done:
        st.success(done)
    return True


def fetch_or_stop(path: str, **params) -> dict:
    """GET what the page cannot do without; when the API fails, one red state and stop.

    An unreachable daemon must never read as an empty, green page ("no alert", "no
    model"), nor as the same error repeated by every section of it.
    """
    try:
        return client().get(path, **params)
    except ApiError as exc:
        # The daemon down, or up but failing this read (the store down: 503): either
        # way the page cannot be drawn, and it says which.
        headline = (
            "Driftline is unreachable"
            if getattr(exc, "status", None) is None
            else "Driftline cannot answer this page"
        )
        st.error(
            f"**{headline}: nothing on this page can be trusted.** {exc}",
            icon=":material/error:",
        )
        st.stop()
        raise  # st.stop() raises; this keeps type checkers and readers sure


def models_overview() -> list[dict]:
    """Every model the daemon has seen, with its status and what Driftline sees of it."""
    return fetch_or_stop("/models")["models"]


def model_names() -> list[str]:
    """Every model the daemon has seen (the pickers of the model and alerts pages)."""
    return [m["model"] for m in models_overview()]


def model_sight_notes(m: dict) -> list[str]:
    """``"not evaluating since ..."`` / ``"no data since ..."`` of one model's entry in
    ``/models``: what keeps its status from meaning "all is well"."""
    notes = []
    if m.get("evaluation") == "not evaluating":
        notes.append(f"not evaluating since {when(m.get('not_evaluating_since'))}")
    if m.get("data") == "no data":
        notes.append(f"no data since {when(m.get('no_events_since'))}")
    return notes


def show_receiver(r: dict) -> None:
    """One receiver's delivery state: red while failing, with since when and how often."""
    if r["status"] == "failing":
        last = when(r["last_success"]) if r.get("last_success") else "never"
        st.error(
            f"**{r['receiver']}**: failing since {when(r['failing_since'])}, "
            f"{r['failed_attempts']} failed attempts, {r['pending']} waiting; "
            f"last success {last}; last error: {r['last_detail']}",
            icon=":material/notifications_off:",
        )
    elif r["status"] == "ok":
        st.markdown(f":green[●] **{r['receiver']}**: last success {when(r['last_success'])}")
    else:
        st.markdown(f":gray[●] **{r['receiver']}**: nothing sent yet")


def delivery(note: dict, receivers: dict[str, dict]) -> str:
    """What became of one notification, read with its receiver's delivery state: a
    notification stuck behind a failing receiver says so, not a bare "pending"."""
    status = note["status"]
    r = receivers.get(note["receiver"])
    if status != "pending":
        return status
    if r is not None and r["status"] == "failing":
        return (
            f"not delivered: {note['receiver']} failing since {when(r['failing_since'])}, "
            f"{r['failed_attempts']} failed attempts"
        )
    return "waiting to be sent"


def sight_banner() -> dict | None:
    """Red banners when Driftline is blind or its notifications are not going out, a
    warning per model without events; returns ``/status`` (None when it failed)."""
    status = fetch_or_stop("/status")
    if status.get("blind"):
        reasons = "; ".join(
            f"{r['what']}: {r['detail']}"
            + (f" (since {when(r['since'])})" if r.get("since") else "")
            for r in status.get("reasons", [])
        )
        last = status.get("last_evaluation")
        st.error(
            f"**Driftline is blind: no new alert can fire.** {reasons}. "
            f"Last rule evaluation {ago(last)}; alerts shown are the last known state.",
            icon=":material/visibility_off:",
        )
    for r in status.get("receivers", []):
        if r.get("alarm"):
            st.error(
                f"**Notifications to {r['receiver']} are not going out** since "
                f"{when(r['failing_since'])} ({r['failed_attempts']} failed attempts, "
                f"{r['pending']} waiting; last: {r['last_detail']}).",
                icon=":material/notifications_off:",
            )
    for m in status.get("models_without_data", []):
        st.warning(f"No events from {m['model']} since {when(m['no_events_since'])}.")
    return status


def when(value: str | None) -> str:
    """``'2026-12-02 01:10 UTC (12 min ago)'`` for an ISO time from the API."""
    if not value:
        return "unknown"
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return f"{t.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC ({ago(value)})"


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


def number(value: float | None) -> str:
    """A statistic as a person reads it: ``0.145``, ``1.2e-07``, ``12.5``; "n/a" for None."""
    if value is None:
        return "n/a"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if v != v:  # NaN
        return "n/a"
    return f"{v:.3g}"


def against(a: dict) -> str:
    """``'0.145 (threshold 0.2, calibrated)'``: an alert's value read against its threshold."""
    text = number(a.get("value"))
    if a.get("threshold") is not None:
        source = a.get("threshold_source")
        text += f" (threshold {number(a['threshold'])}{', ' + source if source else ''})"
    return text


def alert_headline(a: dict, model: str) -> str:
    """One line for an alert: state, severity, what fired, its value, since when, summary,
    who acknowledged it and why, and its runbook."""
    state = "SILENCED" if a.get("silenced") else a["state"].upper()
    notes = a.get("annotations") or {}
    text = (
        f"**{state}** {a['severity']}: {a['rule']} on {a['feature'] or model} "
        f"since {when(a['active_since'])}: {a.get('statistic') or 'value'} {against(a)}"
    )
    if notes.get("summary"):
        text += f"  \n{notes['summary']}"
    if notes.get("description"):
        text += f"  \n{notes['description']}"
    ack = a.get("acknowledged")
    if ack:
        text += f"  \nAcknowledged by {ack['by']}" + (
            f": {ack['comment']}" if ack["comment"] else ""
        )
    if notes.get("runbook_url"):
        text += f"  \n[Runbook]({notes['runbook_url']})"
    if a.get("silenced_by"):
        text += f"  \nMuted by silence {', '.join(a['silenced_by'])}"
    return text


def show_alert(a: dict, model: str) -> None:
    """Firing alerts red, silenced ones grey-blue (still active, nobody is paged)."""
    text = alert_headline(a, model)
    if a.get("silenced"):
        st.info(text, icon=":material/notifications_paused:")
    elif a["state"] == "firing":
        st.error(text, icon=":material/error:")
    else:
        st.warning(text)


def times(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for c in columns:
        if c in frame:
            frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame
