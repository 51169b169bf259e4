"""What a logged model needs to be rebuilt elsewhere: pinned requirements, and wheels of its own code.

A registered model's environment must install from a package index alone, so that
``mlflow models serve --env-manager virtualenv`` (or ``uv``), ``mlflow models
build-docker`` and an environment-restoring ``spark_udf`` work. interestkit and the
plugin distributions a model was built with are not on any index, so each model carries
them as wheels (``artifacts/wheels/*.whl``) and its requirements name those files;
every other dependency is pinned to the version installed when the model was logged.

A wheel is made from the installed distribution:

* an editable install (``pip install -e``): ``pip wheel`` of its source folder (pip fetches
  the build backend from the package index, as for the editable install);
* a regular install: the files its ``RECORD`` lists, zipped back into a wheel (the
  distribution's own metadata, entry points included, travels unchanged).

Wheels are cached under the cache folder by distribution, version and a hash of the
files that go in, built atomically under a file lock, so logging a model builds each
wheel once per change of the code, not once per model.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from filelock import FileLock

from .. import settings
from ..atomic import atomic_write
from ..errors import ModelError

TRAINING_EXTRA = "training"  # where a slimmed wheel's left-out requirements go (``without_requirements``)
WHEELS = "wheels"  # the artefact holding them: artifacts/wheels/ in the model folder
BUILD_TIMEOUT_S = 300


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement.strip(), maxsplit=1)[0]


def requirement_name(requirement: str) -> str:
    """The normalised distribution name a requirement line names (a wheel's path: its file name's first part)."""
    name = _name(requirement)
    return _normalize(Path(name).name.split("-")[0] if name.endswith(".whl") else name)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(distribution: str, skip=()) -> list[str]:
    """``name==version`` for each runtime dependency of ``distribution`` (no extras) that is installed."""
    skip = {_normalize(s) for s in skip}
    pins = []
    try:
        requires = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return []  # not installed here: named by model_environment, with a warning
    for requirement in requires:
        if "extra ==" in requirement.replace("extra==", "extra =="):
            continue
        name = _name(requirement)
        if _normalize(name) in skip:
            continue
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue  # a dependency for another platform, say: nothing installed to pin
    return pins


def wheel_cache() -> Path:
    return settings.wheel_cache()


def _editable_source(dist) -> Path | None:
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    info = json.loads(text)
    if not info.get("dir_info", {}).get("editable"):
        return None
    url = info.get("url", "")
    return Path(url.removeprefix("file://")) if url.startswith("file://") else None


def _source_files(source: Path) -> list[Path]:
    """The files of a source folder a wheel may be built from (not tests, docs, caches, builds)."""
    skip = {"__pycache__", "build", "dist", "tests", "registry", "docs", "benchmarks", "interestkit-demo"}
    found = []
    for folder, subfolders, names in os.walk(source):
        subfolders[:] = sorted(d for d in subfolders if d not in skip and not d.startswith(".")
                               and not d.endswith(".egg-info"))
        found += [Path(folder) / n for n in sorted(names) if not n.endswith((".pyc", ".lock"))]
    return found


def _installed_files(dist) -> list[tuple[Path, str]]:
    """(file, path inside the wheel) for every file the distribution installed into site-packages."""
    found = []
    for item in dist.files or []:
        inside = str(item)
        if inside.startswith("..") or "__pycache__" in inside or inside.endswith(".pyc"):
            continue  # console scripts (rebuilt from entry_points.txt) and byte-code
        found.append((Path(dist.locate_file(item)), inside))
    return found


def _digest(paths) -> str:
    digest = hashlib.sha256()
    for path, name in paths:
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _installed(distribution: str):
    """The installed distribution (a ``.dist-info``, not a source tree's ``.egg-info`` on the path)."""
    found = [d for d in importlib.metadata.distributions(name=distribution)
             if str(getattr(d, "_path", "")).endswith(".dist-info")]
    if not found:
        raise ModelError(f"{distribution} is not installed here, so it cannot be bundled with the model")
    return found[0]


def wheel_of(distribution: str) -> Path:
    """A wheel of the installed ``distribution`` (from the cache when its files are unchanged)."""
    dist = _installed(distribution)
    name, version = _normalize(dist.metadata["Name"]).replace("-", "_"), dist.version
    source = _editable_source(dist)
    files = [(p, str(p.relative_to(source))) for p in _source_files(source)] if source else _installed_files(dist)
    if not source and not any(inside.endswith(".dist-info/RECORD") for _, inside in files):
        raise ModelError(f"{distribution} {version} has no RECORD of its installed files to build a wheel from")
    folder = wheel_cache() / f"{name}-{version}-{_digest(files)}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        built = sorted(folder.glob("*.whl"))
        if built:
            return built[0]
        staging = folder.with_name(folder.name + ".building")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            if source:
                _pip_wheel(source, staging, distribution)
            else:
                _zip_installed(files, staging / f"{name}-{version}-py3-none-any.whl")
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return sorted(folder.glob("*.whl"))[0]


def _pip_wheel(source: Path, target: Path, distribution: str) -> None:
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(target), str(source)]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, cwd=source)
    except subprocess.CalledProcessError as error:
        last = (error.stderr or error.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise ModelError(f"could not build a wheel of {distribution} from {source}: {last[0]}") from None
    except subprocess.TimeoutExpired:
        raise ModelError(f"building a wheel of {distribution} took over {BUILD_TIMEOUT_S}s") from None


def _zip_installed(files, wheel: Path) -> None:
    def write(handle):
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, inside in files:
                archive.write(path, inside)

    atomic_write(wheel, write)


def model_environment(distributions, folder, warn=None, leave_out=()) -> list[str]:
    """Wheels of interestkit and ``distributions`` written into ``folder``, and the model's pip
    requirements: every bundled distribution's dependencies pinned, then the wheels by their
    path inside the model folder (``artifacts/wheels/...``). A distribution that cannot be
    bundled is pinned by name and version instead, and ``warn`` is told why.

    ``leave_out``: dependencies the model does not need where it runs (TensorFlow, for a model
    that scores on its ONNX export): not pinned, and in the bundled wheels' metadata moved
    under the extra ``training``, so installing the wheels does not bring them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = list(dict.fromkeys(["interestkit", *(d for d in distributions if d)]))
    pins: dict[str, str] = {}
    for distribution in wanted:
        for pin in pinned(distribution, skip=[*wanted, *leave_out]):
            pins.setdefault(_normalize(_name(pin)), pin)
    bundled = []
    for distribution in wanted:
        try:
            wheel = wheel_of(distribution)
        except ModelError as error:
            if warn:
                warn(f"{error}; the model's requirements name {distribution} instead, which no index may have")
            version = importlib.metadata.version(distribution) if _has(distribution) else ""
            bundled.append(f"{distribution}=={version}" if version else distribution)
            continue
        if leave_out:
            without_requirements(wheel, folder / wheel.name, leave_out)
        else:
            shutil.copy2(wheel, folder / wheel.name)
        bundled.append(f"artifacts/{folder.name}/{wheel.name}")
    return [*pins.values(), *bundled]


def _has(distribution: str) -> bool:
    try:
        importlib.metadata.version(distribution)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def _optional(line: str, extra: str) -> str:
    """A ``Requires-Dist:`` line made conditional on ``extra`` (its own marker kept)."""
    requirement, _, marker = line.partition(":")[2].strip().partition(";")
    condition = f'extra == "{extra}"'
    return f"Requires-Dist: {requirement.strip()}; " + (f"({marker.strip()}) and {condition}" if marker.strip()
                                                           else condition)


def slim_metadata(text: str, leave_out, extra: str = TRAINING_EXTRA) -> str:
    """Wheel METADATA whose unconditional requirements on ``leave_out`` are under ``extra`` instead."""
    names = {_normalize(n) for n in leave_out}
    lines, moved = [], False
    body = text.find("\n\n")
    head, rest = (text, "") if body < 0 else (text[:body], text[body:])
    for line in head.split("\n"):
        if line.startswith("Requires-Dist:") and "extra ==" not in line \
                and _normalize(_name(line.partition(":")[2])) in names:
            line, moved = _optional(line, extra), True
        lines.append(line)
    if moved and f"Provides-Extra: {extra}" not in lines:
        at = next((i for i, line in enumerate(lines) if line.startswith("Requires-Dist:")), len(lines))
        lines.insert(at, f"Provides-Extra: {extra}")
    return "\n".join(lines) + rest


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def without_requirements(wheel: Path, target: Path, leave_out) -> None:
    """Copy ``wheel`` to ``target`` with ``slim_metadata`` applied (and its RECORD entry updated)."""
    with zipfile.ZipFile(wheel) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    changed = {}
    for info, data in entries:
        if info.filename.endswith(".dist-info/METADATA"):
            changed[info.filename] = slim_metadata(data.decode("utf-8"), leave_out).encode("utf-8")

    def record(data: bytes) -> bytes:
        out = []
        for line in data.decode("utf-8").splitlines():
            name = line.split(",", 1)[0]
            out.append(f"{name},{_record_hash(changed[name])},{len(changed[name])}" if name in changed else line)
        return ("\n".join(out) + "\n").encode("utf-8")

    def write(handle):
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for info, data in entries:
                data = changed.get(info.filename, data)
                archive.writestr(info, record(data) if info.filename.endswith(".dist-info/RECORD") else data)

    atomic_write(target, write)
