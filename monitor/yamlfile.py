"""Strict YAML loading with file:line:col errors.

Config files and rule files are plain data validated once at load by pydantic models.
This module keeps the source position of every node so that each validation error can be
reported the way compilers and promtool do: ``file:line:col: message``. All errors are
collected and reported together, never just the first one.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One error in one file, with a 1-based line and column."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class FileProblems(Exception):
    """Raised with every problem found in one or more files."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class YamlDocument:
    """Parsed YAML (ruamel round-trip nodes, which remember positions) and its file name."""

    file: str
    root: Any

    def position(self, loc: Sequence[str | int]) -> tuple[int, int]:
        """Line and column (1-based) of the deepest node of ``loc`` that exists.

        For a key that is present, the key itself is pointed at (that is where an
        editor should put the cursor for "unknown key" and "wrong value" alike).
        """
        node = self.root
        line, col = 1, 1
        for part in loc:
            if isinstance(node, CommentedMap) and part in node:
                key_line, key_col = node.lc.key(part)
                line, col = key_line + 1, key_col + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                item_line, item_col = node.lc.item(part)
                line, col = item_line + 1, item_col + 1
                node = node[part]
            else:
                if isinstance(node, (CommentedMap, CommentedSeq)) and node.lc.line is not None:
                    line, col = node.lc.line + 1, node.lc.col + 1
                break
        return line, col


def parse_yaml_text(text: str, file: str) -> YamlDocument:
    """Parse YAML text, raising :class:`FileProblems` for syntax errors (with position)."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise FileProblems([Problem(file, line, col, f"invalid YAML: {problem}")]) from None
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. duplicate keys)
        raise FileProblems([Problem(file, 1, 1, f"invalid YAML: {exc}")]) from None
    return YamlDocument(file=file, root=root)


def parse_yaml_file(path: str | Path) -> YamlDocument:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileProblems([Problem(str(path), 1, 1, f"cannot read file: {exc.strerror}")]) from None
    return parse_yaml_text(text, str(path))


def to_plain(node: Any) -> Any:
    """Round-trip nodes to plain dicts and lists, so models never see ruamel types."""
    if isinstance(node, CommentedMap):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [to_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def validate_document(
    model: type[M], doc: YamlDocument, loc_prefix: Sequence[str | int] = ()
) -> M:
    """Validate the document (or the node at ``loc_prefix``) against ``model``.

    Raises :class:`FileProblems` listing every error with its position.
    """
    node = doc.root
    for part in loc_prefix:
        node = node[part]
    data = to_plain(node) if node is not None else {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FileProblems(problems_from_validation(exc, doc, model, loc_prefix)) from None


def problems_from_validation(
    exc: ValidationError,
    doc: YamlDocument,
    model: type[BaseModel],
    loc_prefix: Sequence[str | int] = (),
) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not _is_union_tag(p)]
        line, col = doc.position([*loc_prefix, *loc])
        where = ".".join(str(p) for p in loc) or "(top level)"
        problems.append(Problem(doc.file, line, col, _describe(err, loc, model, where)))
    problems.sort(key=lambda p: (p.line, p.col))
    return problems


def _is_union_tag(part: Any) -> bool:
    # pydantic adds the member type name of a union (e.g. "function-after[...]") to the loc
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _describe(err: dict[str, Any], loc: list[Any], model: type[BaseModel], where: str) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        valid = field_names_at(model, loc[:-1])
        hint = f"; valid keys: {', '.join(valid)}" if valid else ""
        return f"unknown key {loc[-1]!r} in {'.'.join(map(str, loc[:-1])) or 'top level'}{hint}"
    if kind == "missing":
        return f"{where}: required key is missing"
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    got = err.get("input")
    shown = "" if isinstance(got, (dict, list)) or got is None else f" (got {got!r})"
    return f"{where}: {message}{shown}"


def field_names_at(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """Field names of the model found by following ``loc`` through annotations."""
    current: Any = model
    for part in loc:
        current = _descend(current, part)
        if current is None:
            return []
    models = [m for m in _flatten(current) if isinstance(m, type) and issubclass(m, BaseModel)]
    names: list[str] = []
    for m in models:
        names += [f.alias or n for n, f in m.model_fields.items() if (f.alias or n) not in names]
    return names


def _flatten(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [x for a in typing.get_args(annotation) for x in _flatten(a)]
    return [annotation]


def _descend(annotation: Any, part: Any) -> Any:
    for candidate in _flatten(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            for name, field in candidate.model_fields.items():
                if part in (name, field.alias):
                    return field.annotation
        origin = typing.get_origin(candidate)
        args = typing.get_args(candidate)
        if origin in (list, tuple, Sequence) and args and isinstance(part, int):
            return args[0]
        if origin is dict and len(args) == 2:
            return args[1]
    return None
