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


# Files are plain data: these core-schema tags (plus merge keys) and nothing else.
# Anything else (``!!python/object/apply``, ``!custom``) is refused with its position.
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "merge", "timestamp")
)
# Nodes a document may have once every alias is expanded. Aliases share nodes while
# parsing, but validation walks the expanded tree: nine levels of nine aliases ("billion
# laughs") is 9**9 nodes from a few hundred bytes. Real rule files have a few thousand.
MAX_EXPANDED_NODES = 200_000
MAX_FILE_BYTES = 16 * 1024 * 1024


def _node_problems(root: Any, file: str) -> list[Problem]:
    """Disallowed tags, recursive aliases and alias expansion beyond the limit, found on
    the composed node graph (before anything is constructed or expanded)."""
    problems: list[Problem] = []
    sizes: dict[int, int] = {}  # expanded size per node, each shared node computed once
    active: set[int] = set()

    def at(node: Any, message: str) -> Problem:
        mark = node.start_mark
        return Problem(file, mark.line + 1, mark.column + 1, message)

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _Recursive(node)
        tag = str(node.tag)
        if tag not in _PLAIN_TAGS:
            problems.append(
                at(node, f"tag {tag.replace('tag:yaml.org,2002:', '!!')} is not allowed: "
                "rule and config files are plain data (maps, lists, strings, numbers)")
            )
        value = node.value
        total = 1
        if isinstance(value, list):
            active.add(key)
            for item in value:
                pair = item if isinstance(item, tuple) else (item,)
                total += sum(size(part) for part in pair)
            active.discard(key)
        sizes[key] = total
        return total

    try:
        total = size(root)
    except _Recursive as exc:
        return [at(exc.node, "recursive alias: a node contains itself")]
    except RecursionError:
        return [Problem(file, 1, 1, "the document is nested too deeply")]
    if total > MAX_EXPANDED_NODES:
        node = root  # point at the innermost node that alone passes the limit
        while isinstance(node.value, list):
            children = [p for item in node.value for p in (item if isinstance(item, tuple) else (item,))]
            big = [c for c in children if sizes.get(id(c), 0) > MAX_EXPANDED_NODES]
            if not big:
                break
            node = big[0]
        problems.append(
            at(node, f"the document expands to {total} nodes through aliases (*name), more "
            f"than {MAX_EXPANDED_NODES}; refusing it (a YAML alias bomb?)")
        )
    return problems


class _Recursive(Exception):
    def __init__(self, node: Any):
        self.node = node


def parse_yaml_text(text: str, file: str) -> YamlDocument:
    """Parse YAML text, raising :class:`FileProblems` for syntax errors (with position),
    tags other than plain data, recursive aliases and alias bombs (bounded time and
    memory whatever the text)."""
    if len(text) > MAX_FILE_BYTES:
        raise FileProblems([Problem(file, 1, 1, f"file larger than {MAX_FILE_BYTES} bytes")])
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        # Compose first (a node graph: aliases share nodes, nothing is expanded) and
        # check it; construct only what passed.
        graph = yaml.compose(text)
        if graph is not None:
            found = _node_problems(graph, file)
            if found:
                raise FileProblems(found)
        loader = YAML(typ="rt")
        loader.allow_duplicate_keys = False
        root = loader.load(text)
    except FileProblems:
        raise
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
        loc = _document_loc(doc, loc_prefix, err["loc"])
        line, col = doc.position([*loc_prefix, *loc])
        where = ".".join(str(p) for p in loc) or "(top level)"
        problems.append(Problem(doc.file, line, col, _describe(err, loc, model, where)))
    problems.sort(key=lambda p: (p.line, p.col))
    return problems


def _document_loc(doc: YamlDocument, prefix: Sequence[str | int], loc: Sequence[Any]) -> list:
    """The error location with pydantic's union member names removed.

    A part that is a key (or index) of the document at that point is always kept, so a
    key that happens to contain ``[`` (``'a[b': 1``) is reported, not dropped.
    """
    node: Any = doc.root
    for part in prefix:
        node = _child(node, part)
    out: list[Any] = []
    for part in loc:
        child = _child(node, part)
        if child is _ABSENT and _is_union_tag(part):
            continue
        out.append(part)
        node = child
    return out


_ABSENT = object()


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _ABSENT


def _is_union_tag(part: Any) -> bool:
    # pydantic adds the member type name of a union (e.g. "function-after[...]") to the loc
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _describe(err: dict[str, Any], loc: list[Any], model: type[BaseModel], where: str) -> str:
    kind = err["type"]
    if kind == "extra_forbidden" and loc:
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
