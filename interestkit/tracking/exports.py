"""ONNX exports of registered versions: written into the version's own model folder.

A version logged before exports existed (or with ``INTERESTKIT_EXPORT=0``) gets one with
``interestkit models export``: the folder the pyfunc flavour loads (``artifacts/model``
of the logged model) is found in the local artifact store and ``export/`` is written
into it atomically (``runtime.export``). Its environment then becomes what a model logged
with its export has: ONNX Runtime in, TensorFlow and what else only training needs out
(``runtime.export.TRAINING_ONLY``) of ``requirements.txt`` and ``conda.yaml``'s pip list,
and moved under the extra ``training`` in its bundled wheels' metadata (as
``tracking.environment`` does when logging), so an environment rebuilt for it stays small.
Stores whose artefacts are not on this machine are refused.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml

from ..atomic import atomic_write
from ..errors import ModelError
from ..modeling.model import load_model, read_meta
from ..runtime.choice import forced
from ..runtime.export import TRAINING_ONLY, calibration_sample, export_model
from .environment import WHEELS, requirement_name, without_requirements
from .models import with_runtime
from .registry import describe_uri
from .store import configure


def model_root(uri: str) -> Path:
    """The local directory of the logged model ``uri`` (``models:/...`` or ``runs:/...``)."""
    configure()
    try:
        if uri.startswith("models:/"):
            from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository

            location = ModelsArtifactRepository.get_underlying_uri(uri)
        elif uri.startswith("runs:/"):
            from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository

            location = RunsArtifactRepository.get_underlying_uri(uri)
        else:
            raise ModelError(f"{uri!r}: expected models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN/model")
    except ModelError:
        raise
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ModelError(f"model {uri!r} is not in the registry: {first}") from None
    parsed = urlparse(location)
    if parsed.scheme not in ("", "file"):
        raise ModelError(f"model {uri!r} is stored at {location}, not on this machine; export it where it is stored")
    return Path(unquote(parsed.path))


def export_registered(uri: str, calibration=None, photos: int = 200, log=print) -> dict:
    """Write the ONNX export of the registered model ``uri`` into its folder; returns the manifest."""
    root = model_root(uri)
    folder = root / "artifacts" / "model"
    read_meta(folder)  # an interestkit model folder, or a clear error
    with forced("tf"):  # the Keras graphs, whatever this process scores with
        model = load_model(folder)
    manifest = export_model(model, folder, calibration_sample(calibration or [], photos), log=log)
    scoring_requirements(root)
    described = describe_uri(uri)
    log(f"exported {uri}{' (version ' + str(described['version']) + ')' if described else ''}: "
        f"{manifest['precision']} encoder, {folder / 'export'}")
    return manifest


def _on_export(lines: list[str]) -> list[str]:
    """Requirement lines without what only training needs, with ONNX Runtime."""
    left_out = {requirement_name(name) for name in TRAINING_ONLY}
    return with_runtime([line for line in lines if not line.strip() or line.lstrip().startswith(("#", "-"))
                         or requirement_name(line) not in left_out])


def scoring_requirements(root: Path) -> None:
    """Rewrite the logged model's ``requirements.txt``, ``conda.yaml`` and bundled wheels for scoring on its export."""
    for wheel in sorted((root / "artifacts" / WHEELS).glob("*.whl")):
        try:
            # reads the whole wheel first, then replaces it atomically
            without_requirements(wheel, wheel, TRAINING_ONLY)
        except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as error:
            raise ModelError(f"{wheel}: unreadable wheel ({' '.join(str(error).split())})") from None
    requirements = root / "requirements.txt"
    if requirements.is_file():
        atomic_write(requirements, "\n".join(_on_export(requirements.read_text(encoding="utf-8").splitlines())) + "\n")
    conda = root / "conda.yaml"
    if conda.is_file():
        try:
            spec = yaml.safe_load(conda.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise ModelError(f"{conda}: unreadable ({str(error).splitlines()[0]})") from None
        pips = [d for d in (spec or {}).get("dependencies", []) if isinstance(d, dict) and isinstance(d.get("pip"), list)]
        for dependency in pips:
            dependency["pip"] = _on_export([str(line) for line in dependency["pip"]])
        if pips:
            atomic_write(conda, yaml.safe_dump(spec, sort_keys=False))
