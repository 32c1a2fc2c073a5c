"""Driftline's on-call dashboard (Streamlit): a pure client of the daemon's HTTP API.

Run with ``driftline dashboard --api-url http://127.0.0.1:8321`` (or ``streamlit run
dashboards/app.py`` with ``DRIFTLINE_API_URL`` set).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

st.set_page_config(page_title="Driftline", page_icon=":material/monitoring:", layout="wide")
pages = [
    st.Page(
        str(HERE / "pages" / "overview.py"),
        title="Overview",
        icon=":material/dashboard:",
        default=True,
    ),
    st.Page(str(HERE / "pages" / "model.py"), title="Model", icon=":material/insights:"),
    st.Page(str(HERE / "pages" / "alerts.py"), title="Alerts", icon=":material/notifications:"),
]
st.navigation(pages).run()
