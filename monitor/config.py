"""driftline.yaml: the top-level configuration, composed of each part's settings.

Each part owns its settings model (``monitor/<part>/settings.py``); this module only
composes them, so a part adds its section here with one field. The file is validated
once, at load, with unknown keys rejected everywhere and every problem reported as
``file:line:col: message``. Secrets are never values in the file: fields ending in
``_env`` name an environment variable and fields ending in ``_file`` name a file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from monitor.alerting.settings import AlertingSettings
from monitor.api.settings import ApiSettings
from monitor.evaluation.settings import CoordinationSettings
from monitor.health import HealthSettings
from monitor.ingest.settings import IngestSettings, check_workers
from monitor.rules.settings import RulesSettings
from monitor.source.settings import SourceSettings
from monitor.stats.settings import ComputeSettings
from monitor.store.settings import StoreSettings
from monitor.yamlfile import FileProblems, Problem, YamlDocument, parse_yaml_file, validate_document

log = logging.getLogger(__name__)


class Config(BaseModel):
    """The whole of driftline.yaml."""

    model_config = ConfigDict(extra="forbid")

    source: SourceSettings = Field(default_factory=SourceSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    compute: ComputeSettings = Field(default_factory=ComputeSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    coordination: CoordinationSettings = Field(default_factory=CoordinationSettings)
    # --- sections added by their owners, one field each (keep the order) -------------
    rules: RulesSettings = Field(default_factory=RulesSettings)  # monitor/rules
    alerting: AlertingSettings = Field(default_factory=AlertingSettings)  # monitor/alerting
    api: ApiSettings = Field(default_factory=ApiSettings)  # monitor/api
    health: HealthSettings = Field(default_factory=HealthSettings)  # monitor/health.py
    # ---------------------------------------------------------------------------------

    @model_validator(mode="after")
    def _workers_need_a_server(self) -> Config:
        check_workers(self.ingest, self.store)
        return self


def load_config(path: str | Path) -> Config:
    """Read and validate a config file.

    Parameters
    ----------
    path : str or Path
        The YAML file (an empty file means every default).

    Returns
    -------
    Config

    Raises
    ------
    FileProblems
        Every problem of the file, each with its line and column.
    """
    doc = parse_yaml_file(path)
    config = validate_document(Config, doc)
    log.info("loaded config %s", doc.file)
    return config


def check_config(path: str | Path) -> tuple[Config | None, list[Problem], list[Problem]]:
    """Validate a config file and look at the secrets it names, without reading them.

    An environment variable named by an ``*_env`` field that is unset, or a file named
    by a ``*_file`` field that cannot be read, is a *warning*: the check often runs
    where the secrets are not (CI, a laptop), and the daemon fails at start with the
    same message when it is still missing there. ``driftline config check --strict``
    treats warnings as errors.

    Returns
    -------
    (config, errors, warnings)
        ``config`` is None when there are errors.
    """
    try:
        doc = parse_yaml_file(path)
        config = validate_document(Config, doc)
    except FileProblems as exc:
        return None, exc.problems, []
    return config, [], secret_warnings(config, doc)


def secret_warnings(config: BaseModel, doc: YamlDocument) -> list[Problem]:
    """Warnings for ``*_env`` variables that are unset and ``*_file`` files unreadable.

    Messages name the variable or the file, never a value.
    """
    warnings = []
    for loc, name, value in _secret_fields(config, ()):
        line, col = doc.position(loc)
        if name.endswith("_env") and isinstance(value, str) and value not in os.environ:
            message = f"{'.'.join(map(str, loc))}: environment variable {value} is not set"
            warnings.append(Problem(doc.file, line, col, message))
        elif name.endswith("_file") and value is not None:
            file = Path(value)
            if not (file.is_file() and os.access(file, os.R_OK)):
                message = f"{'.'.join(map(str, loc))}: cannot read file {file}"
                warnings.append(Problem(doc.file, line, col, message))
    return warnings


def _secret_fields(node: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[Sequence, str, Any]]:
    # Walk the validated model, not the YAML, so defaults and nested lists are covered
    # with the same rules the daemon will apply.
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            value = getattr(node, name)
            # Only secrets the file names: a default variable (e.g. the API token's) that
            # is unset just leaves its feature off, which its own docs explain.
            explicit = name in node.model_fields_set
            if name.endswith(("_env", "_file")) and value is not None and explicit:
                yield (*loc, name), name, value
            else:
                yield from _secret_fields(value, (*loc, name))
    elif isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            yield from _secret_fields(item, (*loc, i))
    elif isinstance(node, dict):
        for key, item in node.items():
            yield from _secret_fields(item, (*loc, key))
