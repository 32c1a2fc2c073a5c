"""``driftline reference``: load reference datasets (e.g. the training set) into the store."""

from __future__ import annotations

import logging
import math
from datetime import datetime
from pathlib import Path

import typer

from monitor.commands.common import ConfigPath, load_config_or_exit, open_configured_store

log = logging.getLogger(__name__)

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("add")
def add(
    file: Path = typer.Argument(..., help="Parquet, CSV or JSONL file (e.g. the training set)."),
    model: str = typer.Option(..., "--model", "-m", help="Model the reference belongs to."),
    name: str = typer.Option(
        ..., "--name", "-n", help="Name rules use: reference: {dataset: NAME}."
    ),
    timestamp_column: str | None = typer.Option(
        None,
        "--timestamp-column",
        "-t",
        help="Column with each row's time: calibrated thresholds learn from the reference's "
        "own windows (cycles, shifting segments) instead of resampling it. Not a feature.",
    ),
    ordered: bool = typer.Option(
        False, "--ordered", help="Rows are in time order (when there is no timestamp column)."
    ),
    config: Path = ConfigPath,
) -> None:
    """Profile FILE once and keep the profile in the store as reference NAME of MODEL."""
    from monitor.rules.reference_profiles import profile_frame, read_dataset, save_reference

    try:
        frame = read_dataset(file)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from None
    cfg, store = open_configured_store(config)
    try:
        try:
            profile = profile_frame(
                frame,
                cfg.rules.reference_sample_size,
                source=str(file),
                timestamp_column=timestamp_column,
                ordered=ordered,
                calibration_size=cfg.rules.calibration_sample_size,
            )
        except ValueError as exc:
            typer.echo(f"{file}: {exc}", err=True)
            raise typer.Exit(code=1) from None
        save_reference(store, model, name, profile)
    finally:
        store.close()
    kinds = list(profile.kinds.values())
    typer.echo(
        f"reference {name!r} of model {model!r}: {profile.n_rows} rows, "
        f"{kinds.count('numeric')} numeric and {kinds.count('categorical')} categorical "
        f"features{', predictions' if profile.prediction is not None else ''}"
    )
    typer.echo(_calibration_line(profile))


def _calibration_line(profile) -> str:
    sample = profile.calibration
    if sample is None:
        return "calibration: no rows (empty reference)"
    kept = f"{sample.n_rows} of {sample.source_rows} rows"
    if sample.timestamps is not None and sample.n_rows > 1:
        hours = (sample.timestamps[-1] - sample.timestamps[0]) / 3600.0
        return (
            f"calibration: {kept} in time order over {hours:.1f} h "
            f"({int(hours)} windows of 1h: calibrated 1h rules can state rates >= "
            f"{_smallest(int(hours)):g})"
        )
    order = "in file order" if sample.ordered else "without order (resampled)"
    return f"calibration: {kept} {order}"


def _smallest(windows: int) -> float:
    from monitor.stats.calibration import CHUNKS_PER_RATE, MIN_CHUNKS

    if windows < MIN_CHUNKS:
        return 1.0
    return math.ceil(1000.0 * CHUNKS_PER_RATE / windows) / 1000.0


@app.command("show")
def show(
    model: str = typer.Option(..., "--model", "-m"),
    name: str = typer.Option(..., "--name", "-n"),
    rules: list[Path] = typer.Option(
        [], "--rules", "-r", help="Rule files: print the thresholds their calibrated rules learn."
    ),
    window_rows: int | None = typer.Option(
        None,
        "--window-rows",
        help="Rows of an evaluated window (default: the reference's median rows per rule "
        "window when it has timestamps, else the rule's min_samples).",
    ),
    config: Path = ConfigPath,
) -> None:
    """Show a stored reference and the per-feature thresholds calibrated rules learn from it.

    Exit status 1 when the reference is missing or a calibrated rule cannot be calibrated
    from it (the message says what is needed).
    """
    from monitor.rules.reference_profiles import load_reference

    _, store = open_configured_store(config)
    try:
        profile = load_reference(store, model, name)
    finally:
        store.close()
    if profile is None:
        typer.echo(f"no reference {name!r} for model {model!r}", err=True)
        raise typer.Exit(code=1)
    kinds = list(profile.kinds.values())
    typer.echo(
        f"reference {name!r} of model {model!r}: {profile.n_rows} rows from "
        f"{profile.source or '?'}, {kinds.count('numeric')} numeric and "
        f"{kinds.count('categorical')} categorical features"
    )
    typer.echo(_calibration_line(profile))
    if rules and not _show_thresholds(rules, model, name, profile, window_rows):
        raise typer.Exit(code=1)


def _show_thresholds(rules, model, name, profile, window_rows) -> bool:
    import fnmatch

    from monitor.rules.calibration_thresholds import (
        describe,
        expected_window_rows,
        rule_calibration,
    )
    from monitor.rules.drift_blocks import rule_features
    from monitor.rules.loader import load_rule_files
    from monitor.stats.calibration import CalibrationError
    from monitor.yamlfile import FileProblems

    try:
        ruleset = load_rule_files(rules)
    except FileProblems as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        return False
    ok = True
    for group, rule in ruleset.rules():
        spec = rule.reference
        if rule.calibrated is None or spec is None or spec.dataset != name:
            continue
        if not fnmatch.fnmatchcase(model, rule.model):
            continue
        rows = window_rows or expected_window_rows(profile, rule)
        try:
            cal = rule_calibration(
                rule, profile, rule_features(rule, profile), rows, group.interval
            )
        except CalibrationError as exc:
            typer.echo(f"{group.name}/{rule.name}: {exc}", err=True)
            ok = False
            continue
        first, *rest = describe(cal, rule.statistic)
        typer.echo(f"{group.name}/{rule.name}: {first}")
        for line in rest:
            typer.echo(line)
    return ok


@app.command("list")
def list_(
    model: str | None = typer.Option(None, "--model", "-m"), config: Path = ConfigPath
) -> None:
    """List stored references (latest version of each).

    While a daemon holds the embedded store, the list comes from its API.
    """
    from monitor.commands.daemon_api import DaemonApi, DaemonApiError
    from monitor.rules.reference_profiles import list_references

    api = DaemonApi.if_holding_store(load_config_or_exit(config, missing_ok=True))
    if api is not None:
        try:
            found = api.references(model)
        except DaemonApiError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=1) from None
        for r in found:
            created = datetime.fromisoformat(r["created_at"])
            typer.echo(
                f"{r['model']}\t{r['name']}\t{r['n_rows']} rows\t"
                f"{created:%Y-%m-%d %H:%M:%S}\t{r['source']}"
            )
        return
    _, store = open_configured_store(config)
    try:
        rows = list_references(store, model)
    finally:
        store.close()
    for m, n, source, n_rows, created in rows:
        typer.echo(f"{m}\t{n}\t{n_rows} rows\t{created:%Y-%m-%d %H:%M:%S}\t{source}")
