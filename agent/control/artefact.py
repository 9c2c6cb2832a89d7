"""Save and load a fitted cooling model: a skops file plus a JSON sidecar.

Layout of a model directory::

    MODEL_DIR/model.skops   the CoolingModel (skops format: loading runs no arbitrary code,
                            only the types in TRUSTED_TYPES are rebuilt)
    MODEL_DIR/model.json    sidecar: format version, model version, library versions, features,
                            training window, validation errors, SHA-256 of model.skops

A directory written with another :data:`FORMAT_VERSION` is refused with the reason; artefacts are
never committed to the repository.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio

from agent.errors import ModelError
from models.cooling import CoolingModel
from models.features import CONDITION_COLUMNS, FEATURE_NAMES, INPUT_COLUMNS

__all__ = [
    "FORMAT_VERSION",
    "MODEL_FILE",
    "SIDECAR_FILE",
    "TRUSTED_TYPES",
    "LoadedModel",
    "load_model",
    "save_model",
    "trained_until_s",
]

log = logging.getLogger(__name__)

#: Version of the model directory layout and of the pickled classes' state; bump on any change.
FORMAT_VERSION = 2  # 2: quantile models of residuals, hold-out calibrated spread
MODEL_FILE = "model.skops"
SIDECAR_FILE = "model.json"
#: Our own types skops may rebuild besides its defaults (numpy, scikit-learn estimators).
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "models.cooling.CoolingModel",
        "models.cooling.QuantileGradientBoostingRegressor",
        "models.cooling.ValidationReport",
        "models.features.FeatureConfig",
        "models.levers.LeverSupport",
        "models.optimiser.SetpointSupport",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)
_LIBRARIES = ("pue-agent", "numpy", "scikit-learn", "skops")


@dataclass(frozen=True)
class LoadedModel:
    """A model and its sidecar."""

    model: CoolingModel
    sidecar: dict[str, Any]
    path: Path


def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_model(
    model: CoolingModel,
    out_dir: str | Path,
    training_window: dict[str, Any],
    source: str = "",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` and its sidecar into ``out_dir`` (created if needed).

    Parameters
    ----------
    model : CoolingModel
    out_dir : str or pathlib.Path
    training_window : dict
        ``{"start": ISO time, "end": ISO time, "rows": int}`` of the history used.
    source : str
        Where the history came from (file name).
    extra : dict, optional
        More sidecar keys (a retrained model's champion/challenger decision).

    Returns
    -------
    pathlib.Path
        The sidecar path.

    Raises
    ------
    OSError
        ``out_dir`` cannot be created or written; a model already there is left as it was.
    """
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    model_path, sidecar_path = directory / MODEL_FILE, directory / SIDECAR_FILE
    # both files are written aside and renamed over the old ones only when complete
    model_part, sidecar_part = directory / f".{MODEL_FILE}.part", directory / f".{SIDECAR_FILE}.part"
    try:
        sio.dump(model, model_part)
        sidecar_part.write_text(
            json.dumps({**_sidecar(model, _sha256(model_part), training_window, source), **(extra or {})}, indent=2)
            + "\n",
            encoding="utf-8",
        )
        os.replace(model_part, model_path)
        os.replace(sidecar_part, sidecar_path)
    finally:
        model_part.unlink(missing_ok=True)
        sidecar_part.unlink(missing_ok=True)
    return sidecar_path


def _sidecar(model: CoolingModel, model_sha256: str, training_window: dict[str, Any], source: str) -> dict[str, Any]:
    support = model.support
    return {
        "format_version": FORMAT_VERSION,
        "model_version": model.version,
        "model_file": MODEL_FILE,
        "model_sha256": model_sha256,
        "library_versions": _library_versions(),
        "input_columns": list(INPUT_COLUMNS),
        "features": list(FEATURE_NAMES),
        "feature_config": dict(model.feature_config.__dict__),
        "targets": {"cooling_power_w": "W", "max_inlet_c": "C"},
        "training_window": training_window,
        "source": source,
        "validation": model.validation.as_dict(),
        "condition_range": {
            name: [float(lo), float(hi)]
            for name, lo, hi in zip(CONDITION_COLUMNS, model.condition_min, model.condition_max, strict=True)
        },
        "setpoint_support": {
            "cell_k": support.cell_k,
            "margin_k": support.margin_k,
            "economizer_states": [int(s) for s in support.economizer_states()],
        },
        "overhead_coef_w": [float(c) for c in np.asarray(model.overhead_coef)],
    }


def load_model(model_dir: str | Path) -> LoadedModel:
    """Load a model directory written by :func:`save_model`.

    Raises
    ------
    ModelError
        Missing files, unreadable sidecar, another format version, checksum mismatch, or types
        in the model file that are not trusted.
    """
    directory = Path(model_dir)
    sidecar_path = directory / SIDECAR_FILE
    if not sidecar_path.is_file():
        raise ModelError(
            f"{directory}: not a model directory (no {SIDECAR_FILE}); create one with 'pue-agent model fit'"
        )
    try:
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ModelError(f"{sidecar_path}: unreadable sidecar: {err}") from err
    if not isinstance(sidecar, dict):
        raise ModelError(f"{sidecar_path}: sidecar is not a JSON object")
    found = sidecar.get("format_version")
    if found != FORMAT_VERSION:
        raise ModelError(
            f"{directory}: model format version {found!r}, this pue-agent reads version {FORMAT_VERSION}; "
            "refit with 'pue-agent model fit'"
        )
    model_path = directory / str(sidecar.get("model_file", MODEL_FILE))
    if not model_path.is_file():
        raise ModelError(f"{directory}: {model_path.name} is missing")
    if _sha256(model_path) != sidecar.get("model_sha256"):
        raise ModelError(f"{model_path}: checksum does not match the sidecar (file changed or corrupt)")
    try:
        untrusted = set(sio.get_untrusted_types(file=model_path))
        refused = sorted(untrusted - TRUSTED_TYPES)
        if refused:
            raise ModelError(f"{model_path}: refusing to load untrusted types {refused}")
        model = sio.load(model_path, trusted=sorted(untrusted))
    except ModelError:
        raise
    except Exception as err:  # skops raises many types (zip, pickle protocol, attribute errors)
        raise ModelError(f"{model_path}: cannot load: {err}") from err
    if not isinstance(model, CoolingModel):
        raise ModelError(f"{model_path}: holds {type(model).__name__}, not a CoolingModel")
    saved = sidecar.get("library_versions", {})
    current = _library_versions()
    for name in ("scikit-learn", "numpy"):
        if saved.get(name) != current[name]:
            log.warning("%s: fitted with %s %s, running %s", directory, name, saved.get(name), current[name])
    return LoadedModel(model=model, sidecar=sidecar, path=directory)


def trained_until_s(sidecar: dict[str, Any]) -> float | None:
    """Start of the last history row a saved model was fitted on (its training window's end), or None."""
    end = (sidecar.get("training_window") or {}).get("end")
    if not isinstance(end, str):
        return None
    from datetime import datetime

    try:
        parsed = datetime.fromisoformat(end.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None
