"""What the quickstart adds around its runs: the figures (evaluation/plots.py) and the smaller ProsQA-style graphs it
trains on (prosqa_style's graph options)."""

import pytest
from PIL import Image

from softcot_hf.data import get_task
from softcot_hf.data.prosqa_style import generate_split
from softcot_hf.evaluation.plots import plot_methods
from softcot_hf.quickstart import PROSQA_OPTIONS

ROWS = [
    {"label": "Coconut", "accuracy_mean": 0.43, "accuracy_std": 0.013, "tokens_mean": 11.0},
    {"label": "CoT", "accuracy_mean": 0.45, "accuracy_std": 0.015, "tokens_mean": 20.0},
]
CURVE = [{"stage": s, "accuracy_mean": a, "accuracy_std": 0.02} for s, a in enumerate((0.16, 0.14, 0.41, 0.42))]


def test_a_figure_per_task_with_a_panel_for_the_stage_curve(tmp_path):
    two = plot_methods(ROWS, tmp_path / "a" / "two.png", "task")
    three = plot_methods(ROWS, tmp_path / "three.png", "task", stage_curve=CURVE, chance=0.5)
    assert two == tmp_path / "a" / "two.png"
    with Image.open(two) as small, Image.open(three) as wide:
        assert small.format == wide.format == "PNG"
        assert wide.width > 1.3 * small.width  # the third panel
    with pytest.raises(ValueError, match="Nothing to plot"):
        plot_methods([], tmp_path / "none.png", "task")


def test_prosqa_style_graph_options_shape_the_splits_and_keep_them_apart():
    task = get_task("prosqa_style")
    test = task.load("test", **PROSQA_OPTIONS)
    validation = task.load("validation", **PROSQA_OPTIONS)
    assert len(test) == 500 and test["question"] == task.load("test", **PROSQA_OPTIONS)["question"]
    depths = {len(steps) for steps in test["steps"]}
    assert depths == set(range(PROSQA_OPTIONS["min_depth"], PROSQA_OPTIONS["max_depth"] + 1))
    records = generate_split("test", **PROSQA_OPTIONS)
    assert max(len(record["idx_to_symbol"]) for record in records) <= 2 + PROSQA_OPTIONS["max_concepts"]
    assert not set(validation["question"]) & set(test["question"])
    assert test["question"] != task.load("test")["question"][:500]  # the default graphs are larger
    with pytest.raises(ValueError, match="no option 'depth'; its options are min_depth"):
        task.load("test", depth=3)
