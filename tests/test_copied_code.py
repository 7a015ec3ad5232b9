"""
transformers' "Copied from" discipline in modeling/: a method marked `# Copied from modeling_softcot.Class.method`
(optionally `with Old->New`) must stay equal to its original, so each model file reads on its own and still cannot
drift from the code it shares. Change the original and its copies together.
"""

import ast
import re
from pathlib import Path

import pytest

MODELING = Path(__file__).resolve().parents[1] / "modeling"
MARKER = re.compile(r"^ *# Copied from (\w+)\.(\w+)\.(\w+)(?: with (\w+)->(\w+))?$")


def method_source(source: str, class_name: str, method_name: str) -> str | None:
    """The source of `class_name.method_name` in `source` (decorators excluded), or None if there is none."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == method_name:
                    return ast.get_source_segment(source, item)
    return None


def copies(sources: dict[str, str]) -> list[tuple[str, str, str, str | None]]:
    """Each marked copy in `sources` ({module name: text}): (where, original name, copy's source, original's source
    with the marker's replacement applied, None if the original is gone)."""
    found = []
    for module, source in sources.items():
        lines = source.splitlines()
        for index, line in enumerate(lines):
            match = MARKER.match(line)
            if not match:
                continue
            original_module, class_name, method_name, old, new = match.groups()
            copy_name = next(
                node.name
                for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.FunctionDef) and node.lineno == index + 2
            )
            copy_class = next(
                node.name
                for node in ast.parse(source).body
                if isinstance(node, ast.ClassDef) and node.lineno <= index + 1 <= node.end_lineno
            )
            original = method_source(sources[original_module], class_name, method_name)
            if original is not None and old:
                original = original.replace(old, new)
            copied = method_source(source, copy_class, copy_name)
            name = f"{original_module}.{class_name}.{method_name}"
            found.append((f"{module}.py:{index + 1}", name, copied, original))
    return found


def modeling_sources() -> dict[str, str]:
    return {path.stem: path.read_text() for path in sorted(MODELING.glob("*.py"))}


COPIES = copies(modeling_sources())


@pytest.mark.parametrize("where, name, copied, original", COPIES, ids=[where for where, *_ in COPIES])
def test_each_copy_equals_its_original(where, name, copied, original):
    assert original is not None, f"{where} says it is copied from {name}, which no longer exists."
    assert copied == original, f"{where} differs from {name}: change both, or drop the marker if they must differ."


def test_cot_unk_marks_the_code_it_shares_with_softcot():
    shared = {name.rsplit(".", 1)[1] for where, name, _, _ in copies(modeling_sources()) if "cot_unk" in where}
    assert {"_pop_backbone_cache", "_backbone_forward", "get_slot_mask", "_backbone_generation_config"} <= shared


def test_a_changed_original_is_caught():
    sources = modeling_sources()
    original = method_source(sources["modeling_softcot"], "SoftCoTForCausalLM", "get_slot_mask")
    sources["modeling_softcot"] = sources["modeling_softcot"].replace(original, original.replace("mask", "slots"))
    diverged = [where for where, _, copied, original in copies(sources) if copied != original]
    assert len(diverged) == 1 and diverged[0].startswith("modeling_cot_unk.py")
