"""Build and register an ensemble: several registered models of one modality, averaged."""

from __future__ import annotations

from .. import tracking
from ..errors import ConfigError
from ..modeling.ensemble import EnsembleModel, check_members


def _quiet(message):
    pass


def parse_list(text: str, what: str) -> list[str]:
    values = [v.strip() for v in (text or "").split(",") if v.strip()]
    if len(values) < 2 and what == "--models":
        raise ConfigError(f"--models needs at least two model URIs separated by commas, got {text!r}")
    return values


def parse_weights(text: str | None, count: int) -> list[float] | None:
    if not text:
        return None
    values = parse_list(text, "--weights")
    try:
        weights = [float(v) for v in values]
    except ValueError:
        raise ConfigError(f"--weights must be numbers separated by commas, got {text!r}") from None
    if len(weights) != count:
        raise ConfigError(f"--weights gives {len(weights)} numbers for {count} models; give one per model")
    return weights


def build_ensemble(models_text: str, weights_text: str | None = None, registered_model: str | None = None,
                   log=_quiet) -> dict:
    """Load the members, check they fit together, register the ensemble as one version."""
    uris = parse_list(models_text, "--models")
    if len(set(uris)) != len(uris):
        raise ConfigError(f"--models names a model twice: {models_text!r}")
    weights = parse_weights(weights_text, len(uris))
    loaded = [tracking.load_interest_model(uri) for uri in uris]
    members = [model for model, _ in loaded]
    normalised = check_members(members, weights, uris)
    described = [{"uri": uri, "name": d.get("name"), "version": d.get("version"), "run_id": d.get("run_id"),
                  "plugin": m.meta.get("plugin", ""), "weight": w}
                 for uri, (m, d), w in zip(uris, loaded, normalised)]
    for d in described:
        log(f"member {d['uri']} ({d['plugin'] or 'model'}, weight {d['weight']:.3f})")
    model = EnsembleModel(members, normalised, {"ensemble_members": described})
    parts = ", ".join(f"{d['plugin'] or '?'} {d['uri']} (weight {d['weight']:.3f})" for d in described)
    description = (f"Ensemble of {len(members)} {model.modality} models over {len(model.labels)} interests: "
                   f"{parts}; the weighted mean of their calibrated probabilities.")
    summary = tracking.register_interest_model(
        model, registered_model or None, description=description,
        tags={"kind": "ensemble", "members": ",".join(uris)},
        params={"members": uris, "weights": normalised, "modality": model.modality, "labels": len(model.labels)})
    return {**summary, "modality": model.modality, "members": described}
