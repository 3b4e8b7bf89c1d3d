"""Presets: an `EditState` as versioned JSON, lossless in both directions.

A preset embeds its ControlSet (arrays as base64), so it reproduces its frame bit for
bit even when the controls file it came from is gone.  Layout (version 1)::

    {"format": "latent-studio.preset", "version": 1, "name": "...",
     "model": {"spec": "dcgan-faces", "fingerprint": "0c3b…"},
     "seed": 0, "truncation": 1.0, "class_index": null, "size": null,
     "noise_mode": "fixed", "mix": null | {"seed": 7, "range": [s, e]},
     "class_mix": null | {"class": 281, "weight": 0.3},
     "values": [...], "ranges": [null | [s, e], ...],
     "controls": null | <ControlSet.to_json()>, "controls_source": "C.npz",
     "latents": null | {"dtype": "float32", "shape": [L, D], "data": "<base64>"},
     "translate": [tx, ty], "rotate": degrees}

``latents`` (optional; absent = null, as in presets written before it existed) holds
an explicit base image's per-layer latents (`editing.state.BaseLatents`), base64 of the
little-endian float32 bytes, so a sampled or semantically edited image reproduces bit
for bit; ``seed``/``truncation``/``mix`` are still written.  ``translate``/``rotate``
(optional; absent = the identity view) are StyleGAN3's view transform (`EditState.translate`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from methods.controls import ControlSet, ControlSetError, array_from_json, array_to_json, validate_range

from models.atomic import atomic_open
from models.bounded import InputLimitError, is_integer, is_number, read_json_file
from models.diagnose import json_problem
from .state import BaseLatents, EditState

FORMAT = "latent-studio.preset"
VERSION = 1
NOISE_MODES = ("fixed", "random", "zero")
#: bounds of the view transform: beyond them StyleGAN3 shows only its input's aliasing
MAX_TRANSLATE = 1000.0
MAX_ROTATE = 36000.0


class PresetError(ValueError):
    """A preset file is invalid; the message names the field."""


def to_json(state: EditState, fingerprint: str = "", name: str = "", controls_source: str = "") -> dict:
    model_spec = state.model
    if Path(model_spec).exists() and not Path(model_spec).is_absolute():
        model_spec = str(Path(model_spec).resolve())
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "model": {"spec": model_spec, "fingerprint": fingerprint},
        "seed": state.seed,
        "truncation": state.truncation,
        "class_index": state.class_index,
        "size": state.size,
        "noise_mode": state.noise_mode,
        "mix": None if state.mix_seed is None else {"seed": state.mix_seed, "range": list(state.mix_range) if state.mix_range else None},
        "class_mix": None if state.class_mix is None else {"class": state.class_mix[0], "weight": state.class_mix[1]},
        "values": list(state.values),
        "ranges": [list(r) if r is not None else None for r in state.ranges],
        "controls": state.controls.to_json() if state.controls is not None else None,
        "controls_source": controls_source,
        "latents": array_to_json(state.latents.array) if state.latents is not None else None,
        "translate": [float(state.translate[0]), float(state.translate[1])],
        "rotate": float(state.rotate),
    }


def dumps(state: EditState, fingerprint: str = "", name: str = "", controls_source: str = "") -> str:
    """The preset file's text."""
    return json.dumps(to_json(state, fingerprint, name, controls_source), indent=1) + "\n"


def save(path: str | Path, state: EditState, fingerprint: str = "", name: str = "", controls_source: str = "") -> None:
    """Write the preset atomically (temporary file beside it, then rename)."""
    text = dumps(state, fingerprint, name or Path(path).stem, controls_source)
    with atomic_open(path, "w") as f:
        f.write(text)


def _int(obj: dict, key: str, optional: bool = False) -> int | None:
    v = obj.get(key)
    if v is None and optional:
        return None
    if not is_integer(v, -(1 << 63), (1 << 63) - 1):
        raise PresetError(f"field {key!r} must be an integer{' or null' if optional else ''} that fits 64 bits")
    return v


#: largest slider value or truncation a preset may hold (a slider spans a few units)
MAX_VALUE = 1e6
#: truncation ψ beyond which no generator draws anything (ψ = 1 is none; ψ > 1 extrapolates)
MAX_TRUNCATION = 100.0


def _number(v: Any, what: str, lo: float = -MAX_VALUE, hi: float = MAX_VALUE) -> float:
    # is_number never raises: 400-digit integers and Infinity are refused, not overflowed
    if not is_number(v, lo, hi):
        raise PresetError(f"{what} must be a finite number from {lo:g} to {hi:g}")
    return float(v)


def _latents(spec: Any, controls: ControlSet | None) -> BaseLatents | None:
    """The ``latents`` field: None, or float32 ``[L, D]`` finite latents (checked against the
    embedded controls' model when it names one; `check_against` checks the generator)."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise PresetError("field 'latents' must be null or an object with dtype, shape and data")
    try:
        arr = array_from_json(spec)
    except ValueError:
        raise PresetError("field 'latents' is malformed (it needs dtype, shape and base64 data of that size)") from None
    if arr.dtype != np.float32:
        raise PresetError(f"field 'latents' must hold float32 values, not {arr.dtype}")
    if arr.ndim != 2 or 0 in arr.shape:
        raise PresetError(f"field 'latents' must have shape [layers, latent size], not {list(arr.shape)}")
    if not np.isfinite(arr).all():
        raise PresetError("field 'latents' holds non-finite values (NaN or infinity)")
    if controls is not None and arr.shape[1] != controls.model.latent_dim:
        raise PresetError(f"field 'latents' has latent size {arr.shape[1]} but the controls' model has {controls.model.latent_dim}")
    if controls is not None and controls.model.fingerprint and arr.shape[0] != controls.model.num_layers:
        raise PresetError(f"field 'latents' has {arr.shape[0]} layers but the controls' model has {controls.model.num_layers}")
    return BaseLatents(arr)


def from_json(obj: Any) -> tuple[EditState, dict]:
    """Validate a parsed preset; returns the state and ``{"name", "fingerprint", "controls_source"}``.

    Layer ranges are checked against the embedded controls' model; the caller checks
    them against the loaded generator with `check_against`.
    """
    if not isinstance(obj, dict):
        raise PresetError("a preset must be a JSON object")
    if obj.get("format") != FORMAT:
        raise PresetError(f"field 'format' is {obj.get('format')!r}, expected {FORMAT!r}")
    if obj.get("version") != VERSION:
        raise PresetError(f"version {obj.get('version')!r} is not supported (this program reads version {VERSION})")
    model = obj.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("spec"), str) or not model["spec"]:
        raise PresetError("field 'model.spec' must be a model name or path")
    fingerprint = model.get("fingerprint", "")
    if not isinstance(fingerprint, str):
        raise PresetError("field 'model.fingerprint' must be a string")
    seed = _int(obj, "seed")
    if seed < 0:
        raise PresetError("field 'seed' must not be negative")
    truncation = _number(obj.get("truncation"), "field 'truncation'", -MAX_TRUNCATION, MAX_TRUNCATION)
    class_index = _int(obj, "class_index", optional=True)
    size = _int(obj, "size", optional=True)
    if size is not None and not (8 <= size <= 8192):
        raise PresetError("field 'size' must be between 8 and 8192 pixels")
    noise = obj.get("noise_mode", "fixed")
    if noise not in NOISE_MODES:
        raise PresetError(f"field 'noise_mode' must be one of {', '.join(NOISE_MODES)}")
    controls = None
    if obj.get("controls") is not None:
        try:
            controls = ControlSet.from_json(obj["controls"], "preset field 'controls'")
        except ControlSetError as exc:
            raise PresetError(str(exc)) from None
    n = len(controls) if controls is not None else 0
    values, ranges = obj.get("values", []), obj.get("ranges", [])
    if not isinstance(values, list) or len(values) != n:
        raise PresetError(f"field 'values' must be a list of {n} numbers, one per control")
    if not isinstance(ranges, list) or len(ranges) != n:
        raise PresetError(f"field 'ranges' must be a list of {n} entries, one per control")
    vals = tuple(_number(v, f"values[{i}]") for i, v in enumerate(values))
    # Controls for "any model of this latent size" (no fingerprint) do not fix the row count;
    # check_against validates the ranges against the loaded generator then.
    num_layers = controls.model.num_layers if controls is not None and controls.model.fingerprint else 1 << 30
    try:
        rngs = tuple(validate_range(r, num_layers, f"ranges[{i}]") for i, r in enumerate(ranges))
    except ControlSetError as exc:
        raise PresetError(str(exc)) from None
    mix_seed, mix_range = None, None
    mix = obj.get("mix")
    if mix is not None:
        if not isinstance(mix, dict):
            raise PresetError("field 'mix' must be an object or null")
        mix_seed = _int(mix, "seed")
        try:
            mix_range = validate_range(mix.get("range"), num_layers, "mix.range")
        except ControlSetError as exc:
            raise PresetError(str(exc)) from None
    class_mix = None
    cm = obj.get("class_mix")
    if cm is not None:
        if not isinstance(cm, dict):
            raise PresetError("field 'class_mix' must be an object or null")
        other = _int(cm, "class")
        weight = _number(cm.get("weight"), "class_mix.weight")
        if other < 0 or not 0.0 <= weight <= 1.0:
            raise PresetError("class_mix needs a class index ≥ 0 and a weight in [0, 1]")
        class_mix = (other, weight)
    translate = obj.get("translate", [0.0, 0.0])
    if not isinstance(translate, list) or len(translate) != 2:
        raise PresetError("field 'translate' must be a list of two numbers [x, y]")
    tx, ty = (_number(v, f"translate[{i}]", -MAX_TRANSLATE, MAX_TRANSLATE) for i, v in enumerate(translate))
    rotate = _number(obj.get("rotate", 0.0), "field 'rotate'", -MAX_ROTATE, MAX_ROTATE)
    state = EditState(
        translate=(tx, ty), rotate=rotate,
        model=model["spec"], seed=seed, truncation=truncation, class_index=class_index, controls=controls,
        values=vals, ranges=rngs, size=size, noise_mode=noise, mix_seed=mix_seed, mix_range=mix_range,
        class_mix=class_mix, latents=_latents(obj.get("latents"), controls),
    )
    info = {"name": str(obj.get("name", "")), "fingerprint": fingerprint, "controls_source": str(obj.get("controls_source", ""))}
    return state, info


def load(path: str | Path) -> tuple[EditState, dict]:
    path = Path(path)
    if not path.is_file():
        raise PresetError(f"{path} does not exist")
    try:
        obj = read_json_file(path)
    except InputLimitError as exc:
        raise PresetError(str(exc)) from None
    except OSError as exc:
        raise PresetError(f"{path.name} could not be read ({exc.strerror or type(exc).__name__})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PresetError(f"{path.name} is not valid JSON: {json_problem(exc)}") from None
    try:
        return from_json(obj)
    except PresetError as exc:
        raise PresetError(f"{path.name}: {exc}") from None


def check_against(state: EditState, G, fingerprint: str) -> None:
    """Raise `PresetError` unless the loaded preset fits generator ``G``."""
    if fingerprint and fingerprint != G.fingerprint:
        raise PresetError(
            f"the preset was made with weights {fingerprint} but {G.name} has weights {G.fingerprint}"
        )
    if state.controls is not None:
        try:
            state.controls.check_model(G)
        except ControlSetError as exc:
            raise PresetError(str(exc)) from None
    if state.transformed and getattr(G, "view_transform", None) is None:
        raise PresetError(f"the preset translates or rotates the view, which only a StyleGAN3 does, and {G.name} is not one")
    if state.latents is not None and state.latents.shape != (G.num_layers, G.latent_dim):
        raise PresetError(
            f"field 'latents' has shape {list(state.latents.shape)} but {G.name} needs [{G.num_layers}, {G.latent_dim}]"
        )
    for i, r in enumerate(state.ranges):
        try:
            validate_range(r, G.num_layers, f"ranges[{i}]")
        except ControlSetError as exc:
            raise PresetError(str(exc)) from None
    for what, idx in (("class_index", state.class_index), ("class_mix.class", state.class_mix[0] if state.class_mix else None)):
        if idx is None:
            continue
        if G.classes is None:
            raise PresetError(f"the preset's {what} names a class but the model is not class-conditional")
        if not 0 <= idx < len(G.classes):
            raise PresetError(f"{what} {idx} is outside the model's {len(G.classes)} classes")
