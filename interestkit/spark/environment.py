"""This virtual environment as one archive, for Spark executors on other machines.

    python -m interestkit.spark.environment env.tar.gz [--exclude PATTERN ...]

Spark unpacks it in each executor's working folder (``--archives env.tar.gz#environment``),
and ``spark.pyspark.python=./environment/bin/python`` makes executors run it. As with
``venv-pack``, the Python interpreter itself is not packed: ``bin/python`` stays a link to
the interpreter the environment was made from (``home`` in ``pyvenv.cfg``), which must
exist at the same path on every executor; the libraries are packed.

Unlike ``venv-pack``, packages installed in development mode (``pip install -e``, PEP 660)
are packed too: their source folders are copied in under their import names, in place of
the ``__editable__`` hooks that point at a folder the executors cannot see. An older
development install (a ``.egg-link``, or a ``.pth`` line naming a folder outside the
environment) is refused with a one-line error.

``--exclude`` leaves out site-packages entries whose top-level name matches a pattern
(``fnmatch``, e.g. ``tensorflow*``; the distributions' metadata go with them), for
libraries the executors will not import. pyspark and py4j are always left out: the
cluster's Spark puts its own on the executors' path. The archive is written next to its
final name and renamed into place, so an interrupted run leaves no half-written archive.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import os
import re
import sys
import sysconfig
import tarfile
from pathlib import Path

from ..errors import ConfigError, InterestkitError

ALWAYS_EXCLUDED = ("pyspark", "py4j")


def site_packages(prefix: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))


def editable_sources(site: Path) -> dict:
    """``{import name: source folder}`` of the development-mode installs in ``site``."""
    sources = {}
    for finder in sorted(site.glob("__editable___*_finder.py")):
        match = re.search(r"^MAPPING\b[^=]*=\s*(\{.*?\})\s*$", finder.read_text(encoding="utf-8"), re.M)
        if match:
            sources.update(ast.literal_eval(match.group(1)))
    for link in site.glob("*.egg-link"):
        raise ConfigError(f"{link}: a development install (setup.py develop) cannot be packed; "
                          "pip install it (or pip install -e with a current pip) and pack again")
    for pth in site.glob("*.pth"):
        for line in pth.read_text(encoding="utf-8").splitlines():
            entry = line.strip()
            if entry and not entry.startswith(("#", "import ")) and Path(entry).is_absolute() \
                    and Path(entry).is_dir() and not Path(entry).resolve().is_relative_to(site.parents[2].resolve()):
                raise ConfigError(f"{pth}: names {entry}, a folder outside the environment that executors cannot "
                                  "see; pip install that project without -e and pack again")
    return sources


def _excluded(name: str, patterns) -> bool:
    top = re.split(r"-\d", name, maxsplit=1)[0] if name.endswith((".dist-info", ".egg-info")) else name
    top = top.split(".")[0] if top.endswith((".py", ".pth", ".so")) else top
    return any(fnmatch.fnmatch(top.lower(), p.lower()) or fnmatch.fnmatch(top.lower().replace("_", "-"), p.lower())
               for p in patterns)


def pack(out, exclude=(), prefix=None, compresslevel: int = 1) -> dict:
    """Write ``out`` (.tar.gz); ``{files, bytes, prefix, editable}``."""
    prefix = Path(prefix or sys.prefix)
    if not (prefix / "pyvenv.cfg").exists():
        raise ConfigError(f"{prefix} is not a virtual environment (no pyvenv.cfg): run this with a venv's Python")
    out = Path(out)
    if not out.name.endswith((".tar.gz", ".tgz")):
        raise ConfigError(f"{out}: the archive's name must end in .tar.gz or .tgz")
    site = site_packages(prefix)
    sources = editable_sources(site)
    patterns = (*ALWAYS_EXCLUDED, *exclude)
    site_rel = site.relative_to(prefix)
    counts = {"files": 0, "bytes": 0}

    def keep(info: tarfile.TarInfo):
        if info.isfile():
            counts["files"] += 1
            counts["bytes"] += info.size
        return info

    def without_hooks(info: tarfile.TarInfo):  # the development-mode hooks' compiled copies
        return None if Path(info.name).name.startswith("__editable__") else keep(info)

    def skip_caches(info: tarfile.TarInfo):
        return None if "__pycache__" in Path(info.name).parts else keep(info)

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        with tarfile.open(partial, "w:gz", compresslevel=compresslevel) as tar:
            for entry in sorted(prefix.iterdir()):
                if entry.name != "lib":
                    tar.add(entry, entry.name, filter=keep)
            for entry in sorted(site.iterdir()):
                name = entry.name
                if name.startswith("__editable__") or _excluded(name, patterns):
                    continue
                tar.add(entry, str(site_rel / name), filter=without_hooks)
            for name, source in sorted(sources.items()):
                if not _excluded(name, patterns):
                    tar.add(source, str(site_rel / name), filter=skip_caches)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return {**counts, "prefix": str(prefix), "editable": sorted(sources)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m interestkit.spark.environment",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the archive to write (.tar.gz)")
    parser.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                        help="leave out site-packages entries with this top-level name (fnmatch); repeatable")
    args = parser.parse_args(argv)
    try:
        done = pack(args.out, args.exclude)
    except (InterestkitError, OSError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    print(f"packed {done['files']} files ({done['bytes'] / 2**20:.0f} MiB before compression) of {done['prefix']} "
          f"into {args.out}" + (f"; development installs packed from source: {', '.join(done['editable'])}"
                                if done["editable"] else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
