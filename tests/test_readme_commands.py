"""The README's two commands are the ones CI runs and the quickstart test mirrors."""

import re
import shlex
from pathlib import Path

from test_quickstart import QUICKSTART_COMMAND, TINY_FLAG

ROOT = Path(__file__).resolve().parents[1]
INSTALL = "pip install torch==2.13.0 -e ."
INSTALL_DEV = 'pip install torch==2.13.0 -e ".[dev]"'


def readme_commands() -> list[str]:
    """The commands of the README's first code block, one per line, without their trailing comments."""
    block = re.search(r"```(?:bash|sh|shell)?\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    assert block is not None, "README.md has no code block"
    lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in block[1].splitlines()]
    return [line for line in lines if line]


def ci_commands() -> list[list[str]]:
    """The commands `.ci/run` runs, split like a shell would, without `set`/`cd` and comments."""
    commands = []
    for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] not in ("set", "cd"):
            commands.append(words)
    return commands


def test_readme_starts_with_the_install_and_quickstart_command_the_quickstart_test_runs():
    first = readme_commands()[0]
    assert first == f"{INSTALL} && {shlex.join(QUICKSTART_COMMAND)}"
    # The test runs exactly that command, reduced with --tiny.
    assert shlex.split(first.split(" && ")[1]) == QUICKSTART_COMMAND and TINY_FLAG == "--tiny"


def test_readme_second_command_is_what_ci_runs():
    second = readme_commands()[1]
    install, test = second.split(" && ")
    assert install == INSTALL_DEV
    ci = ci_commands()
    # CI installs the same pinned torch and the package with its dev extra, then runs the same test command.
    pip_installs = [words for words in ci if words[:4] == ["python", "-m", "pip", "install"]]
    requirements = {word for words in pip_installs for word in words[4:] if not word.startswith("--")}
    assert {"torch==2.13.0", ".[dev]"} <= requirements and "-e" in {w for words in pip_installs for w in words}
    assert shlex.split(install)[2:] == ["torch==2.13.0", "-e", ".[dev]"]
    assert shlex.split(test) in ci
