"""Every command has help text and is documented in the README."""

from __future__ import annotations

import click
import pytest

from conftest import REPO
from helpers import run_cli
from threadbot.cli import cli

README = (REPO / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from commands(command, prefix=f"{prefix}{name} ")


@pytest.mark.parametrize("name,command", list(commands(cli)))
def test_command_has_help_and_is_in_the_readme(capsys, name, command):
    assert command.help and len(command.help.strip()) > 20
    result = run_cli(capsys, *name.split(), "--help")
    assert result.code == 0 and "Usage: threadbot" in result.out
    assert f"threadbot {name}" in README, f"`threadbot {name}` is not in the README"
    for parameter in command.params:
        if isinstance(parameter, click.Option):
            assert parameter.help, f"{name} {parameter.opts[0]} has no help"


def test_readme_commands_exist():
    import re

    names = {name for name, _ in commands(cli)}
    for mention in re.findall(r"`threadbot ([a-z]+(?: [a-z]+)?)", README):
        first = mention.split()[0]
        assert first in names or mention in names, f"README mentions unknown `{mention}`"


def test_every_exit_code_is_in_the_readme_table():
    from threadbot.errors import ExitCode

    table = README.split("### Exit codes", 1)[1].split("\n\n", 2)[1]
    documented = {int(line.split("|")[1]) for line in table.splitlines()
                  if line.startswith("| ") and line.split("|")[1].strip().isdigit()}
    assert documented == {int(code) for code in ExitCode}
