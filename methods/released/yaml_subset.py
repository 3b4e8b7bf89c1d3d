"""A small reader for the YAML that OmegaConf writes for flat configs (LatentCLR's ``.hydra/*.yaml``).

No new dependency: PyYAML is not among the project's.  It reads the subset
``OmegaConf.to_yaml`` produces for plain configs and nothing more:

* block mappings by indentation (``key: value`` and ``key:`` followed by a deeper block);
* block sequences (``- item``, at the key's indentation or deeper) of scalars;
* flow sequences of scalars on one line (``[0, 1, 2]``);
* scalars: ``null``/``~``, ``true``/``false``, integers, floats, single- or double-quoted
  and plain strings; ``#`` comments and blank lines.

Anything else (anchors, tags, multi-line strings, flow mappings, nested sequences) is a
`YamlError`, so an unexpected file is refused instead of misread.
"""
from __future__ import annotations

import re
from typing import Any

_INT = re.compile(r"^[-+]?\d+$")
_FLOAT = re.compile(r"^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$")


class YamlError(ValueError):
    """The text is not in the supported YAML subset; the message names the line."""


def scalar(text: str, line: int = 0) -> Any:
    t = text.strip()
    if not t or t in ("null", "Null", "NULL", "~"):
        return None
    if t in ("true", "True", "TRUE"):
        return True
    if t in ("false", "False", "FALSE"):
        return False
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        body = t[1:-1]
        return body.replace("''", "'") if t[0] == "'" else bytes(body, "utf-8").decode("unicode_escape")
    if t[0] in "&*!|>{[@`%" or t.startswith("- ") or ": " in t:
        raise YamlError(f"line {line}: {t[:40]!r} is not a plain scalar")
    if _INT.match(t):
        return int(t)
    if _FLOAT.match(t):
        low = t.lower()
        return float(low.replace(".inf", "inf").replace(".nan", "nan"))
    return t


def _value(text: str, line: int) -> Any:
    t = _strip_comment(text).strip()
    if t.startswith("["):
        if not t.endswith("]"):
            raise YamlError(f"line {line}: a flow sequence must close on the same line")
        inner = t[1:-1].strip()
        if "[" in inner or "{" in inner:
            raise YamlError(f"line {line}: nested flow collections are not supported")
        return [scalar(p, line) for p in inner.split(",")] if inner else []
    return scalar(t, line)


def _strip_comment(text: str) -> str:
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i]
    return text


def loads(text: str) -> Any:
    """The mapping (or sequence) in ``text``; `YamlError` outside the subset."""
    lines = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YamlError(f"line {n}: tabs cannot indent YAML")
        body = _strip_comment(raw).rstrip()
        if body.strip() and body.strip() != "---":
            lines.append((n, len(body) - len(body.lstrip()), body.strip()))
    if not lines:
        return None
    value, pos = _block(lines, 0, lines[0][1])
    if pos != len(lines):
        raise YamlError(f"line {lines[pos][0]}: unexpected indentation")
    return value


def _block(lines: list[tuple[int, int, str]], pos: int, indent: int) -> tuple[Any, int]:
    n, ind, body = lines[pos]
    if body.startswith("- ") or body == "-":
        out: list[Any] = []
        while pos < len(lines) and lines[pos][1] == indent and (lines[pos][2].startswith("- ") or lines[pos][2] == "-"):
            n, _ind, body = lines[pos]
            item = body[1:].strip()
            if not item or ((": " in item or item.endswith(":")) and not item.startswith(("'", '"', "["))):
                raise YamlError(f"line {n}: only sequences of scalars are supported")
            out.append(_value(item, n))
            pos += 1
        return out, pos
    mapping: dict[str, Any] = {}
    while pos < len(lines) and lines[pos][1] == indent:
        n, _ind, body = lines[pos]
        if body.startswith("- "):
            raise YamlError(f"line {n}: a sequence item where a key was expected")
        key, sep, rest = body.partition(":")
        if not sep or (rest and not rest.startswith(" ")):
            raise YamlError(f"line {n}: {body[:40]!r} is not a 'key: value' line")
        key = scalar(key, n)
        if not isinstance(key, (str, int)) or str(key) in mapping:
            raise YamlError(f"line {n}: key {key!r} is repeated or not a plain key")
        pos += 1
        if rest.strip():
            mapping[str(key)] = _value(rest, n)
        elif pos < len(lines) and (lines[pos][1] > indent or (lines[pos][1] == indent and lines[pos][2].startswith("- "))):
            mapping[str(key)], pos = _block(lines, pos, lines[pos][1])
        else:
            mapping[str(key)] = None
    if pos < len(lines) and lines[pos][1] > indent:
        raise YamlError(f"line {lines[pos][0]}: unexpected indentation")
    return mapping, pos
