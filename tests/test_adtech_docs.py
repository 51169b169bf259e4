"""docs/adtech.md: its mapping table is the default taxonomy's, and its worked example runs as shown."""

import contextlib
import io
import json
import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from interestkit import tracking
from interestkit.adtech.iab import segment_name
from interestkit.cli import cli
from interestkit.taxonomy import load_taxonomy
from interestkit.testing import FakeInterestModel

DOC = Path(__file__).resolve().parents[1] / "docs" / "adtech.md"


def blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.M | re.S)


def test_the_mapping_table_is_the_default_taxonomys():
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"[\d, ]+|—", cells[1]):
            rows[cells[0]] = cells
    taxonomy = load_taxonomy()
    assert list(rows) == list(taxonomy.names)
    for interest in taxonomy.interests:
        _, ids, names, reason = rows[interest.name]
        assert ids == (", ".join(interest.iab_audience) or "—"), interest.name
        shown = [segment_name(i).removeprefix("Interest | ").replace(" | ", " › ") for i in interest.iab_audience]
        assert names == ("; ".join(shown) or "no fitting segment"), interest.name
        if not interest.iab_audience:
            assert reason, f"{interest.name}: an unmapped interest says why"
    unmapped = [i.name for i in taxonomy.interests if not i.iab_audience]
    assert f"**Unmapped:** {' and '.join(unmapped)}." in DOC.read_text(encoding="utf-8")


def test_the_python_example_prints_what_the_doc_shows():
    (code,) = blocks("python")
    shown = next(b for b in blocks("text") if b.startswith('{\n  "id": "ana"'))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(DOC), "exec"), {"__name__": "adtech_example"})
    assert printed.getvalue() == shown


def test_the_commands_give_what_the_doc_shows(tmp_path, monkeypatch):
    """The example's posts and model, the model registered as the text champion, each command run."""
    (code,) = blocks("python")
    records = re.search(r"posts_from_records\((\[.*?\])", code, re.S).group(1)
    (tmp_path / "posts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in eval(records)), encoding="utf-8")
    keywords = eval(re.search(r"keywords=(\{.*?\})\)", code, re.S).group(1))
    labels = eval(re.search(r'FakeInterestModel\("text", (\[.*?\])', code).group(1))
    tracking.register_interest_model(FakeInterestModel("text", labels, keywords=keywords))
    monkeypatch.chdir(tmp_path)
    session = next(b for b in blocks("text") if b.startswith("$ interestkit"))
    steps = re.split(r"^\$ ", session, flags=re.M)[1:]
    assert len(steps) == 4
    for step in steps:
        command, _, expected = step.partition("\n")
        result = CliRunner().invoke(cli, shlex.split(command)[1:])
        assert result.exit_code == 0, f"{command}: {result.output}"
        if expected:
            assert result.stdout == expected, command
    assert (tmp_path / "segments").is_dir() and (tmp_path / "rankings").is_dir()
