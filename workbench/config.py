"""YAML → frozen dataclasses; unknown keys, wrong types and missing fields are one-sentence errors."""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import yaml

from workbench.errors import ConfigError

T = TypeVar("T")


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present (same safe schema, ~10x faster)
_PARSED: dict[tuple[str, int, int], Any] = {}  # (path, mtime_ns, size) -> parsed content, per process


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file (each version of a file parsed once per process; callers get their own copy);
    a missing or unparsable file raises ConfigError naming it."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"Config file {path} does not exist.")
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
        if key not in _PARSED:
            with path.open(encoding="utf-8") as fh:
                _PARSED[key] = yaml.load(fh, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
        return copy.deepcopy(_PARSED[key])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"Config file {path} is not valid YAML{where}.") from exc


def from_dict(cls: type[T], data: Any, *, where: str) -> T:
    """Build dataclass `cls` from a parsed mapping; `where` names the file/field for error messages."""
    return _convert(cls, data, where)


def load(cls: type[T], path: str | Path) -> T:
    """Load a YAML file into dataclass `cls`."""
    return from_dict(cls, load_yaml(path), where=str(path))


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0] if errors else ConfigError(f"{where}: unexpected value {value!r}.")
    if origin is typing.Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, allowed))}, not {value!r}.")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping of fields, not {type(value).__name__}.")
        hints = get_type_hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp)}
        unknown = sorted(set(map(str, value)) - set(fields))
        if unknown:
            raise ConfigError(
                f"{where} has unknown field '{unknown[0]}' (allowed: {', '.join(sorted(fields))})."
            )
        kwargs = {}
        for name, f in fields.items():
            if name in value:
                kwargs[name] = _convert(hints[name], value[name], f"{where}: {name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{where} is missing the required field '{name}'.")
        return tp(**kwargs)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list, not {value!r}.")
        (arg, *rest) = get_args(tp) or (Any,)
        items = [_convert(arg, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, not {value!r}.")
        kt, vt = get_args(tp) or (Any, Any)
        return {_convert(kt, k, f"{where}") : _convert(vt, v, f"{where}: {k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number, not {value!r}.")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be a whole number, not {value!r}.")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {value!r}.")
        return value
    if tp is str:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{where} must be text, not {value!r}.")
        return str(value)
    return value
