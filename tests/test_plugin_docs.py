"""docs/plugins.md documents every hook a plugin can implement."""

import inspect
import re
from pathlib import Path

from interestkit.hooks import specs as hookspecs

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def hook_specs():
    return sorted(name for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
                  if hasattr(function, "interestkit_spec"))


def documented_hooks():
    return set(re.findall(r"^### (\w+)\s*$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE))


def test_there_are_hook_specs():
    assert "register_encoders" in hook_specs()


def test_every_hook_spec_has_an_entry_in_the_plugin_guide():
    missing = [name for name in hook_specs() if name not in documented_hooks()]
    assert not missing, f"docs/plugins.md has no '### <hook>' entry for: {', '.join(missing)}"


def test_every_entry_documents_the_arguments_of_its_hook():
    text = DOC.read_text(encoding="utf-8")
    for name in hook_specs():
        arguments = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"`{name}({arguments})`" in text, f"docs/plugins.md: the {name} entry should show `{name}({arguments})`"


def test_the_worked_examples_shown_are_the_tested_fixtures():
    """Each code block headed `# tests/fixtures/...` is that file, and every file of the examples is shown."""
    root = DOC.parents[1]
    blocks = re.findall(r"^```(?:python|toml)\n# (tests/fixtures/\S+)\n(.*?)^```$", DOC.read_text(encoding="utf-8"),
                        flags=re.MULTILINE | re.DOTALL)
    shown = {path: body for path, body in blocks}
    files = {str(p.relative_to(root)) for p in (root / "tests" / "fixtures").rglob("*")
             if p.suffix in (".py", ".toml") and "__pycache__" not in p.parts}
    assert set(shown) == files, {"not shown": sorted(files - set(shown)), "not a fixture": sorted(set(shown) - files)}
    for path, body in shown.items():
        assert body == (root / path).read_text(encoding="utf-8"), f"docs/plugins.md shows another {path}"
