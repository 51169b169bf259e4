"""The model registry: names, aliases, listing, promotion and the descriptions people promote by.

The best version of each registered model carries the alias ``champion`` (MLflow aliases,
not the deprecated stages); every command uses ``@champion`` by default. A person can
move it in the MLflow UI, so every version carries a description (plugin, data,
validation metrics) and its run's final metrics.
"""

from __future__ import annotations

import sys

from .. import quiet
from ..errors import ModelError
from .store import configure, default_artifact_root, tracking_uri

CHAMPION = "champion"
HYBRID_NAME = "interestkit-hybrid"
MODEL_DESCRIPTIONS = {
    "interestkit-text": "interestkit caption models: a caption in, a probability per interest out.",
    "interestkit-image": "interestkit photo models: a photo in, a probability per interest out.",
    HYBRID_NAME: "interestkit hybrid models: users' posts in, each user's ranked interests and ads out.",
}


def registered_name(modality: str) -> str:
    return f"interestkit-{modality}"


def parse_model_uri(uri: str) -> tuple[str, str | None, int | None]:
    """``(name, alias, version)`` of ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``."""
    if not uri.startswith("models:/"):
        raise ModelError(f"{uri!r} is not a models:/NAME@ALIAS or models:/NAME/VERSION URI")
    rest = uri[len("models:/"):]
    if "@" in rest:
        name, alias = rest.split("@", 1)
        return name, alias, None
    name, _, version = rest.rpartition("/")
    if not name or not version.isdigit():
        raise ModelError(f"{uri!r}: expected models:/NAME@ALIAS or models:/NAME/VERSION")
    return name, None, int(version)


def describe_uri(uri: str) -> dict:
    """{name, version, run_id} for models:/NAME@ALIAS or models:/NAME/VERSION URIs ({} otherwise)."""
    from mlflow import MlflowClient

    try:
        name, alias, version = parse_model_uri(uri)
    except ModelError:
        return {}
    client = MlflowClient()
    try:
        mv = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, str(version))
    except Exception:
        return {}
    return {"name": mv.name, "version": int(mv.version), "run_id": mv.run_id}


def alias_version(name: str, alias: str = CHAMPION):
    """The version number ``alias`` points at, or None."""
    from mlflow import MlflowClient

    configure()
    try:
        return int(MlflowClient().get_model_version_by_alias(name, alias).version)
    except Exception:
        return None


def champion_version(name: str):
    """The version number the ``champion`` alias points at, or None."""
    return alias_version(name, CHAMPION)


def register(model_uri: str, name: str, tags: dict, description: str) -> tuple[int, bool]:
    """Register ``model_uri`` as a new version of ``name`` with its description; the first
    version becomes ``champion``. Returns ``(version, became champion)``."""
    import mlflow
    from mlflow import MlflowClient

    with quiet.chatter():  # MLflow prints its own "Created version N" lines; the caller reports the version
        version = mlflow.register_model(model_uri, name, tags={k: str(v) for k, v in tags.items()})
    client = MlflowClient()
    client.update_model_version(name, version.version, description=description)
    model = client.get_registered_model(name)
    if not model.description and name in MODEL_DESCRIPTIONS:
        client.update_registered_model(name, description=MODEL_DESCRIPTIONS[name])
    champion = CHAMPION not in (model.aliases or {})
    if champion:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    return int(version.version), champion


def tag_version(name: str, version: int, tags: dict) -> None:
    """Set tags on a registered version (e.g. a pointer to its latest test run)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, str(value))


def version_model_id(name: str, version: int):
    """The MLflow logged-model id behind a registered version, or None (older stores)."""
    from mlflow import MlflowClient

    try:
        return getattr(MlflowClient().get_model_version(name, str(version)), "model_id", None)
    except Exception:
        return None


def _version_row(client, mv) -> dict:
    """One registered version with its plugin, data fingerprint and run metrics."""
    try:
        run = client.get_run(mv.run_id) if mv.run_id else None
    except Exception:
        run = None
    metrics = dict(run.data.metrics) if run else {}
    tags = dict(run.data.tags) if run else {}
    return {
        "name": mv.name,
        "version": int(mv.version),
        "aliases": sorted(getattr(mv, "aliases", []) or []),
        "plugin": (mv.tags or {}).get("plugin") or tags.get("interestkit.plugin", ""),
        "data_sha256": tags.get("interestkit.data_sha256", "")[:12],
        "run_id": mv.run_id,
        "created": mv.creation_timestamp,
        "description": mv.description or "",
        "metrics": {k: metrics[k] for k in sorted(metrics)
                    if k.startswith(("val_", "examples_")) or k in ("epochs", "train_seconds", "temperature")},
        "kind": (mv.tags or {}).get("kind") or "trained",
    }


def list_models(prefix="interestkit-") -> list[dict]:
    """Every version of every registered model whose name starts with ``prefix``."""
    from mlflow import MlflowClient

    configure()
    client = MlflowClient()
    rows = []
    for model in client.search_registered_models():
        if not model.name.startswith(prefix):
            continue
        aliases = {}
        for alias, version in (model.aliases or {}).items():
            aliases.setdefault(int(version), []).append(alias)
        for mv in client.search_model_versions(f"name='{model.name}'"):
            row = _version_row(client, mv)
            row["aliases"] = sorted(aliases.get(row["version"], []))
            rows.append(row)
    return sorted(rows, key=lambda r: (r["name"], r["version"]))


def promote(name: str, metric: str | None = "val_accuracy", version: int | None = None) -> dict:
    """Point ``champion`` at ``version``, at the best version by ``metric``, or (``metric``
    None) at the newest version: a hybrid has no validation metric, and its newest version
    pins the current champions.

    Higher is better, except for metrics whose name contains 'loss'; ties go to the newer
    version. Returns {previous, new, metric, value}.
    """
    from mlflow import MlflowClient

    configure()
    rows = [r for r in list_models(prefix=name) if r["name"] == name]
    if not rows:
        raise ModelError(f"no versions of {name!r} in {tracking_uri()}; train one with 'interestkit train' first")
    previous = champion_version(name)
    if version is not None:
        chosen = next((r for r in rows if r["version"] == version), None)
        if chosen is None:
            have = ", ".join(str(r["version"]) for r in rows)
            raise ModelError(f"{name} has no version {version} (versions: {have})")
    elif metric is None:
        chosen = max(rows, key=lambda r: r["version"])
    else:
        scored = [r for r in rows if metric in r["metrics"]]
        if not scored:
            known = sorted({k for r in rows for k in r["metrics"]})
            raise ModelError(f"no version of {name} has metric {metric!r} (metrics: {', '.join(known) or 'none'})")
        sign = -1 if "loss" in metric else 1
        chosen = max(scored, key=lambda r: (sign * r["metrics"][metric], r["version"]))
    MlflowClient().set_registered_model_alias(name, CHAMPION, str(chosen["version"]))
    return {"name": name, "previous": previous, "new": chosen["version"], "metric": metric,
            "value": chosen["metrics"].get(metric) if metric else None}


def promote_command(name: str, version: int) -> str:
    """The command that makes ``version`` of ``name`` the champion."""
    kind = name[len("interestkit-"):] if name in MODEL_DESCRIPTIONS else None
    which = f"--model {kind}" if kind else f"--registered-model {name}"
    return f"interestkit models promote {which} --version {version}"


def ui_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line of the MLflow UI on the configured store."""
    uri = configure()
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    root = default_artifact_root()
    if root:
        command += ["--default-artifact-root", root]
    return command
