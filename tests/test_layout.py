"""The package's shape: layers without cycles, core free of built-ins, short modules, honest docs."""

import ast
import functools
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "interestkit"
BUILTINS = ROOT / "plugins"
MAX_LINES = 400
#: own modules a function may import late, and why
LATE_IMPORTS = {
    ("interestkit/tracking/models.py", "interestkit.tracking.pyfunc"): "subclasses MLflow's PythonModel at import",
}


def modules(folder: Path, package: str):
    """{dotted name: path} of every module under ``folder`` (the package ``package``)."""
    found = {}
    for path in sorted(folder.rglob("*.py")):
        if "contrib" in path.parts:
            continue
        parts = list(path.relative_to(folder).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join([package, *parts])] = path
    return found


ALL = {**modules(CORE, "interestkit"), **modules(BUILTINS, "interestkit_plugins")}


@functools.cache
def parsed(path: Path) -> ast.Module:
    """The module's syntax tree, parsed once for all the checks of this file."""
    return ast.parse(path.read_text(encoding="utf-8"))


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports(name: str, path: Path, top_level_only=True):
    """(line, imported module) pairs: module-level imports of own modules (or every one)."""
    tree = parsed(path)
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    package = _package_of(name, path)
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                yield node.lineno, target if target in ALL else base


def own(target: str) -> bool:
    return target in ALL


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in ALL.values() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_core_never_imports_a_built_in_plugin():
    """Not by an import statement, nor by a module name handed to importlib."""
    offenders = []
    for name, path in ALL.items():
        if not (name == "interestkit" or name.startswith("interestkit.")):
            continue
        offenders += [f"{path.relative_to(ROOT)}:{line}" for line, target in imports(name, path, top_level_only=False)
                      if target.startswith("interestkit_plugins")]
        tree = parsed(path)
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        offenders += [f"{path.relative_to(ROOT)}:{n.lineno}" for n in ast.walk(tree)
                      if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
                      and n.value.startswith("interestkit_plugins")]
    assert not offenders, offenders


def test_own_modules_are_imported_at_the_top():
    """Only heavy libraries (TensorFlow, Keras, MLflow) load late; own modules are imported at the top."""
    late = []
    for name, path in ALL.items():
        tree = parsed(path)
        top = {node.lineno for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))}
        for line, target in imports(name, path, top_level_only=False):
            if line not in top and own(target) and (str(path.relative_to(ROOT)), target) not in LATE_IMPORTS:
                late.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not late, late


def test_there_are_no_import_cycles():
    graph = {name: {t for _, t in imports(name, path) if own(t) and t != name} for name, path in ALL.items()}
    # a package's __init__ re-exporting its modules is not a cycle with them
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, [" -> ".join(c) for c in cycles]


#: the layers, lowest first: a module of ``interestkit`` imports only from its own layer or
#: below (a name is a subpackage or a top-level module; ``interestkit`` is the package itself)
LAYERS = [
    ("errors", "settings", "quiet", "atomic", "options", "figures"),
    ("interestkit", "interfaces", "hooks"),
    ("data",),
    ("adtech", "taxonomy", "recommend", "semantics"),
    ("modeling", "runtime"),
    ("ranking",),
    ("tracking",),
    ("app", "testing"),
    ("cli", "serve", "spark", "__main__"),
]
LAYER_OF = {name: level for level, names in enumerate(LAYERS) for name in names}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_imports_follow_the_layers():
    """Every import (late ones too) goes to the importer's layer or a lower one, as ``LAYERS`` says."""
    core = {name: path for name, path in ALL.items() if name.split(".")[0] == "interestkit"}
    unplaced = sorted({_part(name) for name in core} - set(LAYER_OF))
    assert not unplaced, f"add these to LAYERS: {unplaced}"
    upward = []
    for name, path in core.items():
        for line, target in imports(name, path, top_level_only=False):
            if own(target) and target.startswith("interestkit") and LAYER_OF[_part(target)] > LAYER_OF[_part(name)]:
                upward.append(f"{path.relative_to(ROOT)}:{line} ({_part(name)}) imports {target} ({_part(target)})")
    assert not upward, upward


def test_the_layer_check_finds_an_upward_import(tmp_path):
    """The check above can fail: ranking importing the command line is caught."""
    module = tmp_path / "order.py"
    module.write_text("from ..cli import main\n")
    found = [target for _, target in imports("interestkit.ranking.order", module) if own(target)]
    assert found == ["interestkit.cli.main"] and LAYER_OF[_part(found[0])] > LAYER_OF["ranking"]


def test_every_package_folder_is_packaged():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(project["tool"]["setuptools"]["packages"])
    folders = {name for name, path in ALL.items() if path.name == "__init__.py"}
    assert folders == listed


def test_the_architecture_table_matches_the_tree():
    """docs/architecture.md names every module of interestkit/, and nothing that is not there."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"^\| `(interestkit/[\w/]+\.py)` \|", text, re.M))
    actual = {str(p.relative_to(ROOT)) for p in CORE.rglob("*.py")}
    assert named == actual, {"missing from the table": sorted(actual - named), "not in the tree": sorted(named - actual)}
