"""``driftline reference``: load reference datasets (e.g. the training set) into the store."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from monitor.commands.common import ConfigPath, open_configured_store

log = logging.getLogger(__name__)

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("add")
def add(
    file: Path = typer.Argument(..., help="Parquet, CSV or JSONL file (e.g. the training set)."),
    model: str = typer.Option(..., "--model", "-m", help="Model the reference belongs to."),
    name: str = typer.Option(
        ..., "--name", "-n", help="Name rules use: reference: {dataset: NAME}."
    ),
    config: Path = ConfigPath,
) -> None:
    """Profile FILE once and keep the profile in the store as reference NAME of MODEL."""
    from monitor.rules.references import profile_frame, read_dataset, save_reference

    try:
        frame = read_dataset(file)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from None
    cfg, store = open_configured_store(config)
    try:
        profile = profile_frame(frame, cfg.rules.reference_sample_size, source=str(file))
        save_reference(store, model, name, profile)
    finally:
        store.close()
    kinds = list(profile.kinds.values())
    typer.echo(
        f"reference {name!r} of model {model!r}: {profile.n_rows} rows, "
        f"{kinds.count('numeric')} numeric and {kinds.count('categorical')} categorical "
        f"features{', predictions' if profile.prediction is not None else ''}"
    )


@app.command("list")
def list_(
    model: str | None = typer.Option(None, "--model", "-m"), config: Path = ConfigPath
) -> None:
    """List stored references (latest version of each)."""
    from monitor.rules.references import list_references

    _, store = open_configured_store(config)
    try:
        rows = list_references(store, model)
    finally:
        store.close()
    for m, n, source, n_rows, created in rows:
        typer.echo(f"{m}\t{n}\t{n_rows} rows\t{created:%Y-%m-%d %H:%M:%S}\t{source}")
