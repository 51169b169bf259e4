"""What importing a plugin costs, measured in a fresh process.

``interestkit --help`` and ``interestkit plugins`` import every plugin's entry-point
module, so that module must not pull in TensorFlow, Keras or MLflow, nor take long.
``measure(module)`` imports ``module`` in a new Python process (after interestkit itself,
which is not counted) and reports the seconds it took and the heavy libraries it loaded;
``check_entry_points()`` does that for every allowed plugin (``interestkit plugins --check``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

from .manager import distribution_of, entry_points, get_plugin_manager

HEAVY = ("tensorflow", "keras", "mlflow")
LIMIT_S = 0.5
HINT = ("import TensorFlow, Keras and MLflow inside the methods that need them (build, fit), not at the module's "
        "top; custom Keras layers go in a module of their own, named in the interestkit.keras_objects entry-point "
        "group")

_PROBE = r"""
import importlib, json, sys, time
import interestkit, interestkit.hooks
heavy = json.loads(sys.argv[2])
before = set(sys.modules)
started = time.perf_counter()
error = None
try:
    importlib.import_module(sys.argv[1])
except BaseException as exc:
    error = " ".join(f"{type(exc).__name__}: {exc}".split())
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "error": error,
                  "heavy": sorted(m for m in heavy if m in sys.modules and m not in before)}))
"""


@dataclass
class ImportCost:
    """What importing ``module`` took in a fresh process."""

    module: str
    seconds: float | None
    heavy: list = field(default_factory=list)
    error: str | None = None
    plugin: str = ""
    package: str = ""
    version: str = ""

    def problems(self, limit_s: float = LIMIT_S) -> list[str]:
        """What is wrong, one phrase each (empty when the import is cheap)."""
        found = []
        if self.error:
            found.append(f"importing {self.module} failed: {self.error}")
        if self.heavy:
            found.append(f"importing {self.module} imports {', '.join(self.heavy)}")
        if self.seconds is not None and self.seconds > limit_s:
            found.append(f"importing {self.module} takes {self.seconds:.2f} s (more than {limit_s} s)")
        return found

    def as_dict(self, limit_s: float = LIMIT_S) -> dict:
        return {"plugin": self.plugin, "package": self.package, "version": self.version, "module": self.module,
                "seconds": self.seconds, "heavy": self.heavy, "error": self.error,
                "problems": self.problems(limit_s)}


def _environment() -> dict:
    """This process's environment, with its ``sys.path`` (plugins installed into a folder on it)."""
    paths = [p for p in sys.path if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths), TF_CPP_MIN_LOG_LEVEL="3")


def _probe(module: str, timeout: float) -> ImportCost:
    try:
        out = subprocess.run([sys.executable, "-c", _PROBE, module, json.dumps(HEAVY)], capture_output=True,
                             text=True, timeout=timeout, env=_environment())
    except subprocess.TimeoutExpired:
        return ImportCost(module, None, error=f"no answer within {timeout:.0f} s")
    lines = out.stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = " ".join(out.stderr.split())[-300:]
        return ImportCost(module, None, error=f"the measuring process failed (exit {out.returncode}): {tail}")
    return ImportCost(module, found["seconds"], found["heavy"], found["error"])


def measure(module: str, limit_s: float = LIMIT_S, timeout: float = 120) -> ImportCost:
    """Import ``module`` (``pkg.mod`` or ``pkg.mod:attr``) in a fresh process; over the limit,
    measure once more and keep the faster (a busy machine should not fail a cheap import)."""
    module = module.partition(":")[0]
    cost = _probe(module, timeout)
    if cost.seconds is not None and cost.seconds > limit_s and not cost.heavy:
        again = _probe(module, timeout)
        if again.seconds is not None and again.seconds < cost.seconds:
            cost = again
    return cost


def check_entry_points(limit_s: float = LIMIT_S) -> list[ImportCost]:
    """The import cost of every allowed plugin's entry-point module, one process each."""
    pm = get_plugin_manager()
    costs = []
    for ep in entry_points():
        package, version = (ep.dist.name, ep.dist.version) if ep.dist is not None else (ep.name, "unknown")
        plugin = ep.name if distribution_of(pm, ep.name)[0] == package else f"{package}:{ep.name}"
        cost = measure(ep.value, limit_s)
        cost.plugin, cost.package, cost.version = plugin, package, version
        costs.append(cost)
    return costs
