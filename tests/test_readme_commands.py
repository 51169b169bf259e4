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
