"""The files a new user meets first promise commands; check that those commands exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from typer.main import get_command

from service.cli import app

REPO = Path(__file__).resolve().parents[1]


def cli_paths() -> set[tuple[str, ...]]:
    """Every command path of `parcel-screen`, e.g. ("models", "ensure-default")."""
    root = get_command(app)
    paths: set[tuple[str, ...]] = set()

    def walk(command: object, prefix: tuple[str, ...]) -> None:
        sub = getattr(command, "commands", None)
        if not sub:
            paths.add(prefix)
            return
        for name, child in sub.items():
            walk(child, (*prefix, name))

    walk(root, ())
    return paths


def parcel_screen_invocations(lines: list[str]) -> list[list[str]]:
    """The command words of each `parcel-screen ...` call on command lines."""
    found = []
    for line in lines:
        text = line.replace('", "', " ").replace('["', " ").replace('"]', " ")
        for match in re.finditer(r"(?:^|[\s/])parcel-screen((?:\s+[\w.:/=$()-]+)+)", text):
            words = [w for w in shlex.split(match.group(1)) if not w.startswith(("-", "$"))]
            found.append(words)
    return found


def assert_known(words: list[str], known: set[tuple[str, ...]]) -> None:
    for length in (2, 1):
        if tuple(words[:length]) in known:
            return
    raise AssertionError(f"parcel-screen {' '.join(words)}: no such command")


def test_dockerfile_runs_existing_commands() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    known = cli_paths()
    commands = [line for line in dockerfile.splitlines() if line.startswith(("RUN", "CMD"))]
    invocations = parcel_screen_invocations(commands)
    assert len(invocations) >= 2  # builds the model, then serves
    for words in invocations:
        assert_known(words, known)
    exec_form = re.search(r"CMD \[(.*)\]", dockerfile)
    assert exec_form is not None
    assert '"--host", "0.0.0.0"' in exec_form.group(1)
    assert "USER " in dockerfile and "AS build" in dockerfile


def test_makefile_targets_and_their_commands_exist() -> None:
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, flags=re.MULTILINE))
    assert {"install", "model", "run", "test", "lint", "bench"} <= targets
    recipes = [line for line in makefile.splitlines() if line.startswith("\t")]
    for words in parcel_screen_invocations(recipes):
        assert_known(words, cli_paths())


def test_readme_leads_with_the_two_commands_ci_runs() -> None:
    readme = (REPO / "README.md").read_text()
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0]
    assert "make run" in first_block and "make test" in first_block
    assert "make test" in (REPO / ".ci" / "run").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.DOTALL)
    invocations = parcel_screen_invocations("\n".join(blocks).splitlines())
    assert invocations
    for words in invocations:
        assert_known(words, cli_paths())
