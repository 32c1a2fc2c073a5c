"""``driftline silence``: create, list and expire silences.

Silences live in the store. With the embedded chDB store only one process may open the
data directory, so while a daemon runs these commands go through its HTTP API (writes
with the token from the variable ``api.token_env`` names); otherwise, and always with a
ClickHouse server, they use the store directly.
"""

from __future__ import annotations

import getpass
import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import typer

from monitor.commands.common import ConfigPath, load_config_or_exit, open_configured_store

log = logging.getLogger(__name__)

app = typer.Typer(no_args_is_help=True, add_completion=False)


def _daemon(config: Path):
    """The running daemon's API when it holds the embedded store, else None."""
    from monitor.commands.daemon_api import DaemonApi

    return DaemonApi.if_holding_store(load_config_or_exit(config, missing_ok=True))


def _through_daemon(call):
    """``call()`` against the daemon; its refusal is one line on stderr and status 1."""
    from monitor.commands.daemon_api import DaemonApiError

    try:
        return call()
    except DaemonApiError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None


def _silences(config: Path):
    from monitor.alerting.silences import SilenceStore

    _, store = open_configured_store(config)
    return store, SilenceStore(store)


def _whoami() -> str:
    # The API wants a creator; the CLI's --author is optional, as before.
    try:
        return getpass.getuser() or "driftline-cli"
    except (OSError, KeyError):
        return "driftline-cli"


def _epoch(text: str) -> float:
    return _parse_time(text)


def _fmt(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> float:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


@app.command("add")
def add(
    matchers: list[str] = typer.Argument(
        ..., help='Label matchers, e.g. model="fraud" feature=~"amount.*".'
    ),
    duration: str = typer.Option("2h", "--duration", "-d", help="How long, e.g. 30m, 2h, 1d."),
    start: str | None = typer.Option(None, "--start", help="Start (RFC 3339); default now."),
    comment: str = typer.Option("", "--comment", help="Why (shown on the dashboard)."),
    author: str = typer.Option("", "--author", help="Who silenced it."),
    config: Path = ConfigPath,
) -> None:
    """Silence alerts whose labels match every MATCHER, for DURATION."""
    from monitor.alerting.matchers import parse_matcher
    from monitor.alerting.settings import parse_duration

    try:
        parsed = [parse_matcher(m) for m in matchers]
        seconds = parse_duration(duration)
        begin = _parse_time(start) if start else time.time()
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    api = _daemon(config)
    if api is not None:
        body = {
            "matchers": list(matchers),
            "starts_at": datetime.fromtimestamp(begin, tz=timezone.utc).isoformat(),
            "duration": duration,
            "created_by": author or _whoami(),
            "comment": comment,
        }
        created = _through_daemon(lambda: api.request("POST", "/silences", json=body))
        typer.echo(created["id"])
        return
    store, silences = _silences(config)
    try:
        s = silences.create(parsed, begin, begin + seconds, created_by=author, comment=comment)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    finally:
        store.close()
    typer.echo(s.id)


@app.command("list")
def list_(
    all_: bool = typer.Option(False, "--all", help="Include expired silences."),
    config: Path = ConfigPath,
) -> None:
    """List silences (active and pending; with --all also expired)."""
    api = _daemon(config)
    if api is not None:
        answer = _through_daemon(lambda: api.get("/silences", include_expired=all_))
        for s in answer["silences"]:
            typer.echo(
                f"{s['id']}  {s['state']:8} {_fmt(_epoch(s['starts_at']))} .. "
                f"{_fmt(_epoch(s['ends_at']))}  {' '.join(s['matchers'])}"
                + (f"  # {s['comment']}" if s["comment"] else "")
            )
        return
    store, silences = _silences(config)
    try:
        now = time.time()
        items = silences.list(now, include_expired=all_)
    finally:
        store.close()
    for s in items:
        matchers = " ".join(str(m) for m in s.matchers)
        typer.echo(
            f"{s.id}  {s.state(now):8} {_fmt(s.starts_at)} .. {_fmt(s.ends_at)}  {matchers}"
            + (f"  # {s.comment}" if s.comment else "")
        )


@app.command("expire")
def expire(
    silence_id: str = typer.Argument(..., help="Id printed by `driftline silence add`."),
    config: Path = ConfigPath,
) -> None:
    """End a silence now; its alerts are notified again at their group's next tick."""
    api = _daemon(config)
    if api is not None:
        _through_daemon(lambda: api.request("DELETE", f"/silences/{quote(silence_id, safe='')}"))
        typer.echo(f"expired {silence_id}")
        return
    store, silences = _silences(config)
    try:
        silences.expire(silence_id, time.time())
    except KeyError:
        typer.echo(f"error: no silence {silence_id}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        store.close()
    typer.echo(f"expired {silence_id}")
