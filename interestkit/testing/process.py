"""Checks that need a fresh Python process: a saved model loads, a plugin imports cheaply.

The process a plugin author's test runs in has imported their code already, so a custom
Keras layer is registered there whatever the packaging says. ``load_in_fresh_process``
loads a saved model folder in a new interpreter, which finds plugins only through
installed entry points, exactly like ``interestkit rank`` or a served model would; a
layer module missing from the ``interestkit.keras_objects`` group fails there.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys

import numpy as np

from .. import settings
from ..hooks import allow_list, imports

_LOADER = r"""
import json, sys
import numpy as np
from interestkit.modeling.model import load_model

folder, samples = sys.argv[1], json.loads(sys.argv[2])
try:
    model = load_model(folder)
    if model.modality == "text":
        probs = model.predict_texts(samples)
    else:
        probs, kept, failures = model.predict_images(samples)
        if failures:
            raise RuntimeError(f"unreadable sample images: {failures}")
    print("RESULT " + json.dumps({"probs": np.asarray(probs, dtype=float).tolist()}))
except Exception as error:
    print("RESULT " + json.dumps({"error": " ".join(f"{type(error).__name__}: {error}".split())}))
"""

KERAS_HINT = ("a custom Keras layer must be registered with @keras.saving.register_keras_serializable in a module "
              "named in the 'interestkit.keras_objects' entry-point group of the plugin's distribution, and the "
              "distribution installed (pip install -e .)")


def distribution_of(cls) -> tuple[str, str] | None:
    """(distribution, version) that installed the module defining ``cls``, or None."""
    top = cls.__module__.split(".")[0]
    names = importlib.metadata.packages_distributions().get(top) or []
    if not names:
        return None
    return names[0], importlib.metadata.distribution(names[0]).version


def _environment(package: str | None) -> dict:
    """This process's environment and ``sys.path``; the plugin's distribution allowed if a list is set."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), TF_CPP_MIN_LOG_LEVEL="3")
    if package and allow_list() is not None:
        env[settings.PLUGINS_ENV] = ",".join(n for n in (os.environ.get(settings.PLUGINS_ENV, ""), package) if n)
    return env


def load_in_fresh_process(folder, samples, package: str | None = None, timeout: float = 300) -> np.ndarray:
    """Probabilities for ``samples`` from the model folder loaded in a new process.

    Raises AssertionError with what went wrong there (and the hint about custom layers).
    """
    out = subprocess.run([sys.executable, "-c", _LOADER, str(folder), json.dumps(list(samples))],
                         capture_output=True, text=True, timeout=timeout, env=_environment(package))
    line = next((line for line in reversed(out.stdout.splitlines()) if line.startswith("RESULT ")), None)
    if line is None:
        tail = " ".join(out.stderr.split())[-400:]
        raise AssertionError(f"loading the saved model in a fresh process crashed (exit {out.returncode}): {tail}")
    result = json.loads(line[len("RESULT "):])
    if "error" in result:
        raise AssertionError(f"the saved model does not load in a fresh process, where plugins come only from "
                             f"installed entry points: {result['error']}; hint: {KERAS_HINT}")
    return np.asarray(result["probs"], dtype=np.float32)


def check_import_cost(module: str, limit_s: float = imports.LIMIT_S):
    """Import ``module`` (a plugin's entry point) in a fresh process; AssertionError if it imports
    TensorFlow, Keras or MLflow or takes more than ``limit_s`` seconds. Returns the measurement."""
    cost = imports.measure(module, limit_s)
    problems = cost.problems(limit_s)
    if problems:
        raise AssertionError(f"{'; '.join(problems)}: `interestkit --help` and `interestkit plugins` import it; "
                             f"{imports.HINT}")
    return cost
