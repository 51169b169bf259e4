"""Installed distributions for plugin tests: written by hand (milliseconds) or installed by pip.

``site`` (a fixture of conftest.py) is a folder on ``sys.path`` where ``add_distribution`` writes a plugin module and
its ``.dist-info`` (``METADATA``, ``entry_points.txt``): ``importlib.metadata`` finds it
exactly like a pip-installed distribution. ``install_worked_examples`` pip-installs the
documented example plugins of ``tests/fixtures/`` into a folder (a few seconds).
"""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path


FIXTURES = Path(__file__).resolve().parent / "fixtures"
WORKED_EXAMPLES = ("interestkit-cnntext", "interestkit-gatedhead", "interestkit-maxfusion")

PLUGIN_SOURCE = '''
"""{doc}"""
from interestkit import Encoder, hookimpl


class {cls}(Encoder):
    """An encoder from {dist}."""

    modality = "text"

    def build(self, train_inputs=None):
        raise AssertionError("not built in these tests")


@hookimpl
def register_encoders(register):
    {register_body}
'''


def add_distribution(site, dist, module, entry_point=None, version="1.0", source=None, encoder=None,
                     keras_objects=None):
    """Write ``<module>.py`` and the ``.dist-info`` of distribution ``dist`` into ``site``."""
    encoder = encoder or module.removeprefix("ik_test_")
    body = source if source is not None else PLUGIN_SOURCE.format(
        doc=f"The {dist} plugin.", cls="ThisEncoder", dist=dist,
        register_body=f"register({encoder!r}, ThisEncoder)")
    (site / f"{module}.py").write_text(textwrap.dedent(body), encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8")
    groups = f"[interestkit]\n{entry_point or module} = {module}\n"
    if keras_objects:
        groups += f"\n[interestkit.keras_objects]\n{entry_point or module} = {keras_objects}\n"
    (info / "entry_points.txt").write_text(groups, encoding="utf-8")



FUSION_PLUGIN = '''
"""A fusion plugin."""
from interestkit import Encoder, Fusion, hookimpl


class GoodFusion(Fusion):
    def fuse(self, scores):
        return {{i: sum(s.get(i, 0.0) for s in scores.values()) for s in scores.values() for i in s}}


class NoFuse(Fusion):
    """Forgot fuse()."""


class Raises(Fusion):
    def fuse(self, scores):
        raise RuntimeError("max() arg is an empty sequence")


class TextEncoder(Encoder):
    def build(self, train_inputs=None):
        raise AssertionError("never built")


class Plain:
    """No base class."""


@hookimpl
def register_fusions(register):
    {body}
'''


def fusion_distribution(site, body, dist="interestkit-maxfusion", module="ik_test_maxfusion", entry_point="maxfusion"):
    add_distribution(site, dist, module, entry_point=entry_point, version="0.1.0",
                     source=FUSION_PLUGIN.format(body=textwrap.indent(textwrap.dedent(body), "    ").strip()))


def install_worked_examples(folder: Path) -> Path:
    """pip-install the worked examples (no dependencies, no build isolation) into ``folder/site``."""
    sources, target = folder / "sources", folder / "site"
    for name in WORKED_EXAMPLES:  # copied: building must not leave files in the repository
        shutil.copytree(FIXTURES / name, sources / name, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--no-index", "--target", str(target), *(str(sources / n) for n in WORKED_EXAMPLES)],
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    return target
