"""Imports run one way: every import of `softcot_hf` (module level or inside a function: a lazy import is an arrow too)
goes to its own layer or below, there is no circle, and nothing imports `softcot_hf.cli`."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top: a module may import from its own layer or a lower one. A name stands for a module and everything
# under it (but the package itself, "softcot_hf", which stands for its __init__ only); the longest name that matches a
# module decides its layer.
LAYERS = [
    [
        "softcot_hf",
        "softcot_hf.errors",
        "softcot_hf.settings_files",
        "softcot_hf.arguments_parser",
        "softcot_hf.checks",
        "softcot_hf.compat",
        "softcot_hf.recipe_files",
        "softcot_hf.modeling",
        "softcot_hf.processing_softcot",
        "softcot_hf.auto",
    ],
    ["softcot_hf.data"],
    [
        "softcot_hf.generation",
        "softcot_hf.loading",
        "softcot_hf.serving",
        "softcot_hf.run_files",
        "softcot_hf.shared_options",
    ],
    ["softcot_hf.training"],
    ["softcot_hf.methods"],
    ["softcot_hf.evaluation"],
    [
        "softcot_hf.pipelines",
        "softcot_hf.reproduce",
        "softcot_hf.reproduce_arguments",
        "softcot_hf.push_arguments",
        "softcot_hf.fidelity",
        "softcot_hf.paper_results",
        "softcot_hf.bench",
        "softcot_hf.hub",
        "softcot_hf.lm_eval_models",
        "softcot_hf.tiny",
        "softcot_hf.quickstart",
        "softcot_hf.compare_settings",
        "softcot_hf.compare_arguments",
    ],
    ["softcot_hf.cli"],
]


def module_files() -> dict[str, Path]:
    """{dotted module name: file} for `softcot_hf/` and `modeling/` (installed as `softcot_hf.modeling`)."""
    modules = {}
    for folder, package in ((ROOT / "softcot_hf", "softcot_hf"), (ROOT / "modeling", "softcot_hf.modeling")):
        for path in folder.rglob("*.py"):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The `softcot_hf` modules that module `name` imports anywhere in its file; `from package import module` is an
    arrow to that module, `from module import function` one to the module. Imports under `if TYPE_CHECKING:` are
    for annotations only (they never run) and are no arrows."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    tree = ast.parse(path.read_text())
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for statement in node.body
        for inner in ast.walk(statement)
    }
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in known else source)
    return {target for target in targets if target in known and target != name}


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imported_modules(name, path, set(files)) for name, path in files.items()}


def layer_of(module: str) -> int:
    matches = [
        (len(prefix), index)
        for index, layer in enumerate(LAYERS)
        for prefix in layer
        if module == prefix or (prefix != "softcot_hf" and module.startswith(prefix + "."))
    ]
    if not matches:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {Path(__file__).name}.")
    return max(matches)[1]


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer():
    for module in import_graph():
        layer_of(module)


def test_no_import_circle():
    assert circles(import_graph()) == []


def test_imports_go_down_the_layers():
    upward = [
        f"{source} (layer {layer_of(source)}) imports {target} (layer {layer_of(target)})"
        for source, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(source)
    ]
    assert upward == []


def test_nothing_imports_the_cli():
    importers = sorted(source for source, targets in import_graph().items() if "softcot_hf.cli" in targets)
    assert importers == []


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_circles_are_found(graph, expected):
    assert circles(graph) == expected


def test_a_lazy_import_is_an_arrow(tmp_path):
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from .other import g\n    return g\n")
    assert imported_modules("softcot_hf.late", module, {"softcot_hf.other"}) == {"softcot_hf.other"}
