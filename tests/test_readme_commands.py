"""Every command line in the README's command list names a real command and real options."""

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from interestkit.cli.main import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def command_lines():
    text = README.read_text(encoding="utf-8")
    block = text.split("## Using it on your own data", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.startswith("interestkit ")]


def test_the_command_list_has_the_commands():
    names = {" ".join(shlex.split(line)[1:2]) for line in command_lines()}
    assert {"predict", "test", "ensemble", "train", "compare", "fusion"} <= names


@pytest.mark.parametrize("line", command_lines())
def test_each_line_parses(line):
    words = shlex.split(line)[1:]
    path = []
    for word in words:
        if word.startswith("-"):
            break
        path.append(word)
    group = cli
    command_path = []
    for word in path:  # group and subcommand names; the rest are arguments (a caption)
        if hasattr(group, "commands") and word in group.commands:
            group = group.commands[word]
            command_path.append(word)
    result = CliRunner().invoke(cli, [*command_path, "--help"])
    assert result.exit_code == 0, result.output
    for option in re.findall(r"(?<!\S)(--[a-z][a-z-]*)", line):
        assert option in result.output, f"{line!r}: {option} is not an option of {' '.join(command_path)}"


DURATION = re.compile(r"\b\d+(\.\d+)?\s*(min|minutes?|s|seconds?)\b|about a minute|under (ten|a) minutes?")


def test_every_time_the_readme_states_comes_with_the_command_that_measures_it():
    """A duration in the README's prose is measured: its paragraph names the `time ...` command."""
    text = README.read_text(encoding="utf-8")
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    paragraphs = [p for p in re.split(r"\n\s*\n", prose) if DURATION.search(p)]
    assert paragraphs, "the README states no time at all"
    for paragraph in paragraphs:
        assert re.search(r"`time [^`]+`", paragraph), f"a time without the command that measures it: {paragraph!r}"
