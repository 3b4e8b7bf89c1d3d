"""Controls — what discovery methods produce — and `ControlSet`, their file format.

A control moves per-layer latents ``[B, num_layers, latent_dim]`` by a slider value
``t`` given in the control's own unit (one σ for GANSpace).  Kinds (METHODS.md §0):

* ``linear`` — a unit vector d and a scale σ: ``x' = x + t·σ·d`` written only into
  the latent rows of its layer range [s, e).  Built here.
* ``field`` — a state-dependent unit vector field followed by small steps
  (`methods.fields`), from LatentCLR's conditional models and WarpedGANSpace.
* ``activation``, ``optimisation`` — the file format and `ControlSet.apply` dispatch on
  ``kind`` so they plug in beside the others.

Files are ``.npz`` (tensors) with the JSON metadata stored inside as a UTF-8 byte
array named ``meta.json``: one file, read with ``allow_pickle=False``, never pickle.
"""
from __future__ import annotations

import base64
import datetime as _dt
import json
import math
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np
import torch

from models.bounded import InputLimitError, is_integer, is_number, loads_json, read_npz, short_repr

from .fields import FieldError, VectorField

FORMAT = "latent-studio.controls"
VERSION = 1
#: bounds on what a controls file may declare (real ones: latent_dim ≤ 512, 18 layers, steps ≈ 0.01–1)
MAX_LATENT_DIM = 1 << 16
MAX_SCALE = 1e6
MIN_FIELD_STEP = 1e-4
MAX_FIELD_STEP = 1e3
#: largest controls file read (all arrays together)
MAX_CONTROLS_BYTES = 1 << 30

LayerRange = tuple[int, int]


class ControlSetError(ValueError):
    """A ControlSet file or argument is invalid; the message is one sentence for the user."""


def array_to_json(a: np.ndarray) -> dict:
    """A numeric array as JSON, losslessly: ``{"dtype", "shape", "data": base64 of its little-endian bytes}``."""
    le = a.dtype.newbyteorder("<")
    return {"dtype": str(le), "shape": list(a.shape),
            "data": base64.b64encode(np.ascontiguousarray(a.astype(le)).tobytes()).decode("ascii")}


def array_from_json(spec: Any) -> np.ndarray:
    """The array `array_to_json` wrote (a writable copy); ValueError when ``spec`` is malformed."""
    try:
        dtype = np.dtype(spec["dtype"])
        if dtype.kind not in "fiu" or dtype.hasobject:
            raise TypeError
        shape = [int(s) for s in spec["shape"]]
        if any(s < 0 for s in shape):
            raise ValueError
        raw = base64.b64decode(spec["data"], validate=True)
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    except (KeyError, TypeError, ValueError, OverflowError, base64.binascii.Error):
        raise ValueError("malformed array: it needs a numeric dtype, a shape and base64 data of that size") from None


@dataclass(frozen=True)
class ModelRef:
    """Which generator a ControlSet belongs to.

    ``fingerprint`` is the weights' content hash; an empty fingerprint means "any
    generator with this latent size" (e.g. an imported vocabulary).
    """

    name: str
    family: str
    fingerprint: str
    latent_dim: int
    num_layers: int

    @classmethod
    def of(cls, generator) -> "ModelRef":
        return cls(generator.name, generator.family, generator.fingerprint, generator.latent_dim, generator.num_layers)

    def accepts(self, generator) -> str | None:
        """None when ``generator`` can use these controls, else the reason it cannot."""
        if generator.latent_dim != self.latent_dim:
            return (
                f"these controls have {self.latent_dim}-dimensional directions but "
                f"{generator.name} has a latent size of {generator.latent_dim}"
            )
        if self.fingerprint and generator.fingerprint != self.fingerprint:
            return (
                f"these controls were made for model {self.name} (weights {self.fingerprint}), "
                f"not for {generator.name} (weights {generator.fingerprint})"
            )
        return None


@dataclass(frozen=True)
class LinearControl:
    """``x' = x + t·scale·direction`` on the latent rows ``layers`` (None = all rows).

    ``direction``: unit vector ``[latent_dim]`` (float32); ``scale``: latent units per
    slider unit (σ along the direction for PCA methods, 1 otherwise).
    """

    name: str
    direction: np.ndarray
    scale: float = 1.0
    layers: LayerRange | None = None
    kind: str = dc_field(default="linear", init=False)

    def flipped(self) -> "LinearControl":
        return replace(self, direction=-self.direction)


@dataclass(frozen=True)
class FieldControl:
    """Follow the unit field ``v(x)`` for a path of ``t·scale`` latent units in Euler steps of ``step``.

    LatentCLR's conditional models and WarpedGANSpace produce these (METHODS.md §0 kind 3);
    ``sign`` = −1 flips the walking direction.
    """

    name: str
    field: VectorField
    step: float = 0.1
    scale: float = 1.0
    layers: LayerRange | None = None
    sign: float = 1.0
    kind: str = dc_field(default="field", init=False)

    def flipped(self) -> "FieldControl":
        return replace(self, sign=-self.sign)

    def apply(self, rows: torch.Tensor, t: float) -> torch.Tensor:
        """Latents ``[n, D]`` moved along the field by slider value ``t``."""
        return self.field.integrate(rows, self.sign * t * self.scale, self.step)


Control = Union[LinearControl, FieldControl]  # activation/optimisation kinds join as they are built


def _range_mask(ranges: Sequence[LayerRange | None], num_layers: int) -> np.ndarray:
    """``[K, L]`` float mask: 1 where latent row l is inside control k's range [s, e)."""
    mask = np.zeros((len(ranges), num_layers), dtype=np.float32)
    for k, r in enumerate(ranges):
        s, e = (0, num_layers) if r is None else r
        mask[k, max(0, s) : min(num_layers, e)] = 1.0
    return mask


def validate_range(r: Any, num_layers: int, what: str = "layer range") -> LayerRange | None:
    """A layer range ``(start, end)`` with ``0 <= start < end <= num_layers``, or None."""
    if r is None:
        return None
    if not isinstance(r, (list, tuple)) or len(r) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in r
    ):
        raise ControlSetError(f"{what} must be two integers start:end, not {short_repr(r)}")
    s, e = int(r[0]), int(r[1])
    if not (0 <= s < e <= num_layers):
        raise ControlSetError(f"{what} {short_repr(s, 20)}:{short_repr(e, 20)} is outside the model's layers 0:{num_layers}")
    return (s, e)


class ControlSet:
    """A named list of controls plus where they came from.

    Immutable in practice: `renamed`, `flipped` and friends return new sets.
    ``extras`` holds method-specific arrays (e.g. GANSpace's ``var_ratio``);
    ``stats`` holds JSON-able figures.
    """

    def __init__(
        self,
        controls: Sequence[Control],
        model: ModelRef,
        method: str,
        config: dict | None = None,
        seed: int | None = None,
        samples: int | None = None,
        created: str | None = None,
        extras: dict[str, np.ndarray] | None = None,
        stats: dict | None = None,
    ):
        self.controls: tuple[Control, ...] = tuple(controls)
        self.model = model
        self.method = method
        self.config = dict(config or {})
        self.seed = seed
        self.samples = samples
        self.created = created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        self.extras = {k: np.asarray(v) for k, v in (extras or {}).items()}
        self.stats = dict(stats or {})
        for c in self.controls:
            if c.kind == "field":
                if c.field.dim != model.latent_dim:
                    raise ControlSetError(f"field control {c.name!r} acts on size {c.field.dim}, expected {model.latent_dim}")
                if not (c.step > 0 and math.isfinite(c.step)):
                    raise ControlSetError(f"field control {c.name!r} needs a positive step")
            elif c.direction.shape != (model.latent_dim,):
                raise ControlSetError(
                    f"control {c.name!r} has a direction of shape {c.direction.shape}, expected ({model.latent_dim},)"
                )
            if c.layers is not None:
                validate_range(c.layers, model.num_layers, f"default layer range of {c.name!r}")
        self._device_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self.controls)

    def __getitem__(self, i: int) -> Control:
        return self.controls[i]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.controls]

    def directions(self) -> np.ndarray:
        """The linear controls' unit directions, ``[K, latent_dim]`` float32."""
        lin = [c.direction for c in self.controls if c.kind == "linear"]
        if not lin:
            return np.zeros((0, self.model.latent_dim), dtype=np.float32)
        return np.stack(lin).astype(np.float32)

    def scales(self) -> np.ndarray:
        """Latent units per slider unit, per control."""
        return np.array([c.scale for c in self.controls], dtype=np.float32)

    def _linear_index(self) -> list[int]:
        return [i for i, c in enumerate(self.controls) if c.kind == "linear"]

    def default_ranges(self) -> list[LayerRange | None]:
        return [c.layers for c in self.controls]

    def check_model(self, generator) -> None:
        """Raise `ControlSetError` when these controls do not belong to ``generator``."""
        reason = self.model.accepts(generator)
        if reason:
            raise ControlSetError(reason)

    # ------------------------------------------------------------------ editing
    def _with_controls(self, controls: Sequence[Control]) -> "ControlSet":
        return ControlSet(
            controls, self.model, self.method, self.config, self.seed, self.samples, self.created, self.extras, self.stats
        )

    def renamed(self, index: int, name: str) -> "ControlSet":
        name = name.strip()
        if not name:
            raise ControlSetError("a control's name cannot be empty")
        controls = list(self.controls)
        controls[index] = replace(controls[index], name=name)
        return self._with_controls(controls)

    def flipped(self, index: int) -> "ControlSet":
        """The same set with control ``index`` pointing the other way (eigen-signs are arbitrary)."""
        controls = list(self.controls)
        controls[index] = controls[index].flipped()
        return self._with_controls(controls)

    def subset(self, indices: Sequence[int]) -> "ControlSet":
        return self._with_controls([self.controls[i] for i in indices])

    # ------------------------------------------------------------------ applying
    def _tensors(self, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        key = (str(device), dtype)
        if key not in self._device_cache:
            dirs = torch.as_tensor(self.directions(), device=device, dtype=dtype)
            scales = torch.as_tensor(self.scales(), device=device, dtype=dtype)  # all controls; indexed by kind
            self._device_cache[key] = (dirs, scales)
        return self._device_cache[key]

    def apply(
        self,
        latents: torch.Tensor,
        values: Sequence[float] | np.ndarray | torch.Tensor,
        layer_ranges: Sequence[LayerRange | None] | None = None,
    ) -> torch.Tensor:
        """Edited copy of per-layer latents; the input is not modified.

        ``latents``: ``[B, L, D]``.  ``values``: slider values ``[K]`` (shared by the
        batch) or ``[B, K]``, in each control's unit.  ``layer_ranges``: one [s, e) or
        None per control (None: the control's default range, else all rows).
        Linear kinds: ``Δ[b, l] = Σ_k values[b, k]·scale_k·mask[k, l]·d_k``; field kinds
        then integrate their paths in control order.
        """
        B, L, D = latents.shape
        K = len(self.controls)
        if D != self.model.latent_dim:
            raise ControlSetError(f"latents have size {D} but these controls expect {self.model.latent_dim}")
        v = torch.as_tensor(np.asarray(values, dtype=np.float32) if not torch.is_tensor(values) else values)
        v = v.to(device=latents.device, dtype=latents.dtype)
        if v.dim() == 1:
            v = v.unsqueeze(0).expand(B, -1)
        if v.shape != (B, K):
            raise ControlSetError(f"expected {K} control values (or [{B}, {K}]), got shape {tuple(v.shape)}")
        if layer_ranges is None:
            layer_ranges = [None] * K
        if len(layer_ranges) != K:
            raise ControlSetError(f"expected {K} layer ranges, got {len(layer_ranges)}")
        ranges = [r if r is not None else c.layers for r, c in zip(layer_ranges, self.controls)]
        if K == 0 or not bool(v.abs().sum()):
            return latents.clone()
        lin = self._linear_index()
        out = latents
        if lin:
            dirs, scales = self._tensors(latents.device, latents.dtype)
            mask = torch.as_tensor(_range_mask([ranges[i] for i in lin], L), device=latents.device, dtype=latents.dtype)
            out = latents + torch.einsum("bk,kl,kd->bld", v[:, lin] * scales[lin], mask, dirs)
        else:
            out = latents.clone()
        # Field controls walk one after the other, each on the latent rows of its range.
        for k, c in enumerate(self.controls):
            if c.kind != "field" or not bool(v[:, k].abs().sum()):
                continue
            s, e = ranges[k] if ranges[k] is not None else (0, L)
            for b in range(B):
                t = float(v[b, k])
                if t:
                    out[b, s:e] = c.apply(out[b, s:e], t)
        return out

    def delta_norms(self, values: Sequence[float]) -> list[float]:
        """``‖Δ‖`` in latent units of each control at the given slider values (shown in the GUI)."""
        return [abs(float(t)) * float(c.scale) * (float(np.linalg.norm(c.direction)) if c.kind == "linear" else 1.0)
                for t, c in zip(values, self.controls)]

    # ------------------------------------------------------------------ files
    def _meta(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "model": self.model.__dict__.copy(),
            "method": self.method,
            "config": self.config,
            "seed": self.seed,
            "samples": self.samples,
            "created": self.created,
            "stats": self.stats,
            "controls": [self._control_meta(c) for c in self.controls],
            "extras": sorted(self.extras),
        }

    @staticmethod
    def _control_meta(c: Control) -> dict:
        meta = {"name": c.name, "kind": c.kind, "scale": float(c.scale), "layers": list(c.layers) if c.layers else None}
        if c.kind == "field":
            meta.update(step=float(c.step), sign=float(c.sign),
                        field={"type": c.field.type, "params": c.field.params, "arrays": sorted(c.field.arrays)})
        return meta

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {"directions": self.directions()}
        for i, c in enumerate(self.controls):
            if c.kind == "field":
                for name, a in c.field.arrays.items():
                    arrays[f"field.{i}.{name}"] = a
        for k, v in self.extras.items():
            arrays[f"extra.{k}"] = v
        return arrays

    def save(self, path: str | Path) -> None:
        """Write ``path`` (``.npz``) atomically: a temporary file beside it, then a rename."""
        from models.atomic import atomic_open

        arrays = self._arrays()
        arrays["meta.json"] = np.frombuffer(json.dumps(self._meta()).encode("utf-8"), dtype=np.uint8)
        with atomic_open(path, "wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "ControlSet":
        """Read a file written by `save`; any problem is a `ControlSetError` naming the field."""
        path = Path(path)
        if not path.is_file():
            raise ControlSetError(f"{path} does not exist")
        try:
            # every entry's declared size is checked against the file before NumPy allocates it
            arrays = read_npz(path, max_total=MAX_CONTROLS_BYTES)
        except InputLimitError as exc:
            raise ControlSetError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - numpy/zipfile raise many kinds on a stranger's bytes
            raise ControlSetError(f"{path.name} is not a controls file (.npz): {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        if "meta.json" not in arrays:
            raise ControlSetError(f"{path.name} has no meta.json entry, so it is not a Latent Studio controls file")
        try:
            meta = loads_json(arrays.pop("meta.json").astype(np.uint8).tobytes(), what=f"{path.name}'s meta.json")
        except InputLimitError as exc:
            raise ControlSetError(str(exc)) from None
        except (ValueError, UnicodeDecodeError):
            raise ControlSetError(f"{path.name}: meta.json is not valid JSON") from None
        if not isinstance(meta, dict):
            raise ControlSetError(f"{path.name}: meta.json holds a JSON {type(meta).__name__}, not an object")
        return cls._from_parts(meta, arrays, path.name)

    def to_json(self) -> dict:
        """A JSON-able dict holding everything (arrays as base64 little-endian), for presets."""
        return {
            "meta": self._meta(),
            "arrays": {k: array_to_json(a) for k, a in self._arrays().items()},
        }

    @classmethod
    def from_json(cls, obj: Any, where: str = "preset") -> "ControlSet":
        if not isinstance(obj, dict) or not isinstance(obj.get("meta"), dict) or not isinstance(obj.get("arrays"), dict):
            raise ControlSetError(f"{where}: controls must be an object with 'meta' and 'arrays'")
        arrays = {}
        for k, spec in obj["arrays"].items():
            try:
                arrays[k] = array_from_json(spec)
            except ValueError:
                raise ControlSetError(f"{where}: controls array {k!r} is malformed") from None
        return cls._from_parts(obj["meta"], arrays, where)

    @staticmethod
    def _field_control(i: int, s: dict, arrays: dict, name: str, scale: float, layers, fail) -> FieldControl:
        spec = s.get("field")
        if not isinstance(spec, dict) or not isinstance(spec.get("arrays"), list) or not isinstance(spec.get("params", {}), dict):
            fail(f"controls[{i}].field must hold type, params and arrays")
        missing = [a for a in spec["arrays"] if f"field.{i}.{a}" not in arrays]
        if missing:
            fail(f"controls[{i}] lacks array field.{i}.{missing[0]}")
        step, sign = s.get("step"), s.get("sign", 1.0)
        for what, val in (("step", step), ("sign", sign)):
            if not is_number(val):
                fail(f"controls[{i}].{what} must be a finite number")
        if not MIN_FIELD_STEP <= step <= MAX_FIELD_STEP or sign not in (1.0, -1.0):
            fail(f"controls[{i}] needs a step from {MIN_FIELD_STEP:g} to {MAX_FIELD_STEP:g} and a sign of 1 or -1")
        try:
            vf = VectorField(str(spec.get("type")), {a: arrays[f"field.{i}.{a}"] for a in spec["arrays"]}, dict(spec.get("params", {})))
        except FieldError as exc:
            fail(f"controls[{i}].field: {exc}")
        return FieldControl(name, vf, float(step), scale, layers, float(sign))

    @classmethod
    def _from_parts(cls, meta: dict, arrays: dict[str, np.ndarray], where: str) -> "ControlSet":
        def fail(msg: str):
            raise ControlSetError(f"{where}: {msg}")

        if meta.get("format") != FORMAT:
            fail(f"format is {meta.get('format')!r}, expected {FORMAT!r}")
        if meta.get("version") != VERSION:
            fail(f"version {meta.get('version')!r} is not supported (this program reads version {VERSION})")
        m = meta.get("model")
        if not isinstance(m, dict) or not all(k in m for k in ("name", "family", "fingerprint", "latent_dim", "num_layers")):
            fail("field 'model' must hold name, family, fingerprint, latent_dim and num_layers")
        for key in ("latent_dim", "num_layers"):
            # ints only (a float such as 1e400 or 512.5 is not a size), bounded before anything is sized by them
            if not is_integer(m[key], 1, MAX_LATENT_DIM):
                fail(f"field 'model.{key}' must be an integer from 1 to {MAX_LATENT_DIM}")
        model = ModelRef(str(m["name"]), str(m["family"]), str(m["fingerprint"]), int(m["latent_dim"]), int(m["num_layers"]))
        specs = meta.get("controls")
        if not isinstance(specs, list):
            fail("field 'controls' must be a list")
        for i, s in enumerate(specs):
            kind = s.get("kind") if isinstance(s, dict) else None
            if kind not in ("linear", "field"):
                fail(f"controls[{i}] has kind {kind!r}, which this version cannot apply")
        n_linear = sum(s["kind"] == "linear" for s in specs)
        dirs = arrays.get("directions")
        if dirs is None or dirs.dtype.kind != "f" or dirs.ndim != 2:
            fail("array 'directions' must be a 2-D float array")
        if dirs.shape != (n_linear, model.latent_dim):
            fail(f"array 'directions' has shape {dirs.shape}, expected ({n_linear}, {model.latent_dim})")
        if not np.all(np.isfinite(dirs)):
            fail("array 'directions' holds NaN or infinite values")
        controls: list[Control] = []
        linear_rows = iter(dirs)
        for i, s in enumerate(specs):
            name = s.get("name")
            if not isinstance(name, str) or not name:
                fail(f"controls[{i}].name must be a non-empty string")
            scale = s.get("scale")
            if not is_number(scale, -MAX_SCALE, MAX_SCALE):
                fail(f"controls[{i}].scale must be a finite number of at most {MAX_SCALE:g} in size")
            try:
                layers = validate_range(s.get("layers"), model.num_layers, f"controls[{i}].layers")
            except ControlSetError as exc:
                fail(str(exc))
            if s["kind"] == "linear":
                controls.append(LinearControl(name, next(linear_rows).astype(np.float32), float(scale), layers))
                continue
            controls.append(cls._field_control(i, s, arrays, name, float(scale), layers, fail))
        extras = {k[len("extra."):]: v for k, v in arrays.items() if k.startswith("extra.")}
        seed, samples = meta.get("seed"), meta.get("samples")
        for fname, val in (("seed", seed), ("samples", samples)):
            if val is not None and (isinstance(val, bool) or not isinstance(val, int)):
                fail(f"field {fname!r} must be an integer or null")
        config = meta.get("config") or {}
        stats = meta.get("stats") or {}
        if not isinstance(config, dict) or not isinstance(stats, dict):
            fail("fields 'config' and 'stats' must be objects")
        return cls(controls, model, str(meta.get("method", "?")), config, seed, samples, str(meta.get("created", "")) or None, extras, stats)


def random_controls(generator, count: int, seed: int = 0) -> ControlSet:
    """``count`` random unit directions with unit scale: the baseline every method must beat."""
    rng = np.random.default_rng(seed)
    dirs = rng.standard_normal((count, generator.latent_dim)).astype(np.float32)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    controls = [LinearControl(f"random {i}", d) for i, d in enumerate(dirs)]
    return ControlSet(controls, ModelRef.of(generator), "random", {"count": count}, seed=seed)


__all__ = [
    "ControlSet",
    "ControlSetError",
    "FieldControl",
    "LinearControl",
    "ModelRef",
    "random_controls",
    "validate_range",
]
