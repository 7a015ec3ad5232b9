"""Every `softcot-hf` command in README.md and docs/ parses with the real command line, the cheap ones run, and every
relative link points at a file (or a heading) that exists.

A command is a line of a ```bash / ```sh / ``` block (backslash continuations joined, comments dropped) whose words
start with `softcot-hf`, or hold `-m softcot_hf.cli` (under torchrun or accelerate launch); `&&` and `;` separate
commands on one line. `softcot_hf.cli.check_command_line` parses each down to its flags' types without running it.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from softcot_hf.cli import check_command_line

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 220
FENCED_BLOCK = re.compile(r"^```(\w*).*?\n(.*?)^```", re.S | re.M)
SHELL_LANGUAGES = ("bash", "sh", "shell", "")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def shell_lines(markdown: str) -> list[str]:
    """The lines of the shell blocks of `markdown`, backslash continuations joined."""
    lines = []
    for block in FENCED_BLOCK.finditer(markdown):
        if block[1] in SHELL_LANGUAGES:
            lines.extend(re.sub(r"\\\n\s*", " ", block[2]).splitlines())
    return lines


def cli_arguments(line: str) -> list[list[str]]:
    """The `softcot-hf` argument lists (without the program) of one shell line."""
    if not re.search(r"(^|\s)softcot-hf(\s|$)|-m softcot_hf\.cli", line):  # e.g. a diagram in a plain block
        return []
    words = shlex.split(line, comments=True)
    commands, current = [], []
    for word in [*words, "&&"]:
        if word in ("&&", ";", "||", "|"):
            commands.append(current)
            current = []
        else:
            current.append(word)
    found = []
    for command in commands:
        while command and re.fullmatch(r"[A-Z_]+=\S*", command[0]):  # VAR=value before the program
            command = command[1:]
        if command[:1] == ["softcot-hf"]:
            found.append(command[1:])
        elif "softcot_hf.cli" in command and command[command.index("softcot_hf.cli") - 1] == "-m":
            found.append(command[command.index("softcot_hf.cli") + 1 :])
    return found


def documented_commands() -> list[tuple[str, list[str]]]:
    """(file relative to the repository, argument list) for every command in the docs."""
    return [
        (str(path.relative_to(ROOT)), argv)
        for path in doc_files()
        for line in shell_lines(path.read_text(encoding="utf-8"))
        for argv in cli_arguments(line)
    ]


COMMANDS = documented_commands()


def is_cheap(argv: list[str]) -> bool:
    """Runs in seconds on a CPU without a network: help, the version, or a dry run of a tiny recipe."""
    if argv[-1:] in (["--help"], ["--version"]):
        return True
    return len(argv) > 1 and argv[0] == "reproduce" and argv[1].startswith("tiny/") and "--dry-run" in argv


def test_the_extraction_finds_commands_in_every_form_the_docs_use():
    markdown = (
        "```bash\nsoftcot-hf train softcot --backbone b \\\n    --lr 1e-3   # a comment\n```\n"
        "```python\nsoftcot-hf not --a-shell-block\n```\n"
        "```\nOMP_NUM_THREADS=1 softcot-hf eval --task t && softcot-hf report runs/eval\n"
        "torchrun --nproc_per_node 2 -m softcot_hf.cli train coconut --seed 1\n```\n"
    )
    found = [argv for line in shell_lines(markdown) for argv in cli_arguments(line)]
    assert found == [
        ["train", "softcot", "--backbone", "b", "--lr", "1e-3"],
        ["eval", "--task", "t"],
        ["report", "runs/eval"],
        ["train", "coconut", "--seed", "1"],
    ]


def test_the_docs_hold_the_everyday_commands():
    commands = {argv[0] if argv[0] != "train" else f"train {argv[1]}" for _, argv in COMMANDS}
    everyday = {"train softcot", "train coconut", "eval", "report", "reproduce", "push", "lm-eval"}
    assert everyday <= commands, f"missing from the docs: {sorted(everyday - commands)}"
    readme = [argv for path, argv in COMMANDS if path == "README.md"]
    assert {"train", "eval", "report"} <= {argv[0] for argv in readme}, "the README's first own run is gone"


@pytest.mark.parametrize(("path", "argv"), COMMANDS, ids=[f"{p}:{' '.join(a)[:60]}" for p, a in COMMANDS])
def test_documented_command_parses(path, argv):
    assert "..." not in argv, f"{path}: write the command in full, without '...': softcot-hf {shlex.join(argv)}"
    try:
        check_command_line(argv)
    except SystemExit as error:
        if error.code not in (0, None):  # `--help` and `--version` exit 0
            pytest.fail(f"{path}: `softcot-hf {shlex.join(argv)}` does not parse: {error}")


CHEAP = [(path, argv) for path, argv in COMMANDS if is_cheap(argv)]


def test_the_docs_hold_cheap_commands_to_run():
    assert CHEAP, "no --help, --version or tiny dry run left in the docs: the next test would run nothing"


@pytest.mark.parametrize(("path", "argv"), CHEAP, ids=[" ".join(argv) for _, argv in CHEAP])
def test_cheap_documented_command_runs_from_any_directory(path, argv, tmp_path):
    result = subprocess.run(
        ["softcot-hf", *argv], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=ONE_THREAD
    )
    assert result.returncode == 0, f"{path}: `softcot-hf {shlex.join(argv)}` failed:\n{result.stderr[-3000:]}"


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of `markdown`: lower case, punctuation dropped, spaces as hyphens."""
    markdown = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    headings = re.findall(r"^#+\s+(.*)$", markdown, re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files_and_headings_that_exist(path):
    markdown = path.read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked.read_text(encoding="utf-8")):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{path.relative_to(ROOT)}: broken links: {broken}"


def test_readme_python_example_runs_on_the_shipped_tiny_pair(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"^## The Python API\n\n```python\n(.*?)^```", readme, re.S | re.M)
    assert example, "README.md: the section 'The Python API' with its python block is gone"
    pair = '("meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-3.1-8B-Instruct")'
    tiny = ROOT / "softcot_hf" / "assets" / "quickstart"
    code = example[1].replace(pair, repr((str(tiny / "assistant"), str(tiny / "backbone"))))
    code = code.replace(', dtype="bfloat16", device_map="auto"', "")  # a CPU, float32
    assert code.count(str(tiny)) == 2 and "bfloat16" not in code, "the example's model pair or loading line changed"
    code += "\nassert type(model).__name__ == 'SoftCoTForCausalLM' and len(out) == 2\n"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=ONE_THREAD
    )
    assert result.returncode == 0, f"README.md's Python example failed on the tiny pair:\n{result.stderr[-3000:]}"
    assert (tmp_path / "my-softcot" / "config.json").exists()


def test_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = readme.splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"
    linked = {target.partition("#")[0] for target in LINK.findall(readme)}
    orphans = [page.name for page in sorted((ROOT / "docs").glob("*.md")) if f"docs/{page.name}" not in linked]
    assert not orphans, f"docs pages the README does not link to: {orphans}"
