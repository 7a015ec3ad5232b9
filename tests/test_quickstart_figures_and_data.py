"""What the quickstart adds around its runs: the figures (evaluation/plots.py: checked on the figure's artists, not
its pixels) and the smaller ProsQA-style graphs it trains on (prosqa_style's graph options)."""

import pytest
from matplotlib.container import ErrorbarContainer
from PIL import Image

from softcot_hf.data import get_task
from softcot_hf.data.prosqa_style import generate_split
from softcot_hf.evaluation.plots import methods_figure, plot_methods
from softcot_hf.quickstart.settings import PROSQA_OPTIONS
from softcot_hf.quickstart.tables import counted, figure_title

ZERO_SHOT = {"label": "Zero-Shot CoT", "accuracy_mean": 0.81, "accuracy_std": 0.0, "accuracy_per_seed": [0.81]}
ZERO_SHOT["tokens_mean"] = 20.2
ROWS = [
    {"label": "Coconut", "accuracy_mean": 0.43, "accuracy_std": 0.013, "accuracy_per_seed": [0.42, 0.43, 0.44]},
    {"label": "CoT", "accuracy_mean": 0.452, "accuracy_std": 0.015, "accuracy_per_seed": [0.44, 0.45, 0.466]},
]
ROWS[0]["tokens_mean"], ROWS[1]["tokens_mean"] = 11.0, 20.0
CURVE = [
    {"stage": s, "accuracy_mean": a, "accuracy_std": 0.02, "accuracy_per_seed": [a - 0.02, a, a + 0.02]}
    for s, a in enumerate((0.16, 0.14, 0.41, 0.42))
]


def test_a_figure_per_task_with_a_panel_for_the_stage_curve(tmp_path):
    two = plot_methods(ROWS, tmp_path / "a" / "two.png", "task")
    three = plot_methods(ROWS, tmp_path / "three.png", "task", stage_curve=CURVE, references={"chance": 0.5})
    assert two == tmp_path / "a" / "two.png"
    with Image.open(two) as small, Image.open(three) as wide:
        assert small.format == wide.format == "PNG"
        assert wide.width > 1.3 * small.width  # the third panel
    with pytest.raises(ValueError, match="Nothing to plot"):
        plot_methods([], tmp_path / "none.png", "task")
    with pytest.raises(ValueError, match=r"fractions in \[0, 1\], got \{'chance': 50\}"):
        methods_figure(ROWS, "task", references={"chance": 50})


def _error_bar_positions(axes) -> list[float]:
    """The x of every error bar drawn on `axes` (the vertical segments of its errorbar containers)."""
    containers = [container for container in axes.containers if isinstance(container, ErrorbarContainer)]
    bars = [collection for container in containers for collection in container.lines[2]]
    return sorted(segment[0][0] for collection in bars for segment in collection.get_segments())


def _texts(axes) -> list[str]:
    return [text.get_text() for text in axes.texts]


def test_bars_carry_their_values_and_error_bars_only_where_seeds_were_pooled():
    figure = methods_figure([ZERO_SHOT, *ROWS], "synthetic_arithmetic", references={"majority answer": 0.114})
    accuracy, tokens = figure.axes
    # Every bar says its value; the 1.2-point gap between the two trained rows is written out, not guessed.
    assert _texts(accuracy) == ["81.0", "43.0", "45.2"]
    assert _texts(tokens) == ["20.2", "11.0", "20.0"]
    # The frozen Zero-Shot CoT (evaluated once) has no error bar; the rows over 3 seeds have theirs.
    assert _error_bar_positions(accuracy) == [1, 2]
    # The majority-answer line, labelled in the legend with its value.
    (line,) = [line for line in accuracy.get_lines() if line.get_label().startswith("majority answer")]
    assert list(line.get_ydata()) == [pytest.approx(11.4)] * 2 and line.get_label() == "majority answer: 11.4%"
    assert [text.get_text() for text in accuracy.get_legend().get_texts()] == ["majority answer: 11.4%"]
    for axes in (accuracy, tokens):
        assert axes.get_xlabel() == "method" and axes.get_ylabel()
        assert [label.get_text() for label in axes.get_xticklabels()] == ["Zero-Shot CoT", "Coconut", "CoT"]
    assert accuracy.get_ylabel() == "accuracy on the test questions (%)"
    assert tokens.get_ylabel() == "generated tokens per answer"
    assert figure.get_suptitle() == "synthetic_arithmetic"


def test_one_seed_draws_no_error_bars_and_the_stage_panel_has_values_and_chance():
    one_seed = [{**row, "accuracy_std": 0.0, "accuracy_per_seed": [row["accuracy_mean"]]} for row in ROWS]
    curve = [{**point, "accuracy_std": 0.0, "accuracy_per_seed": [point["accuracy_mean"]]} for point in CURVE]
    accuracy, _, stages = methods_figure(one_seed, "t", curve, {"chance (2 options)": 0.5}).axes
    assert _error_bar_positions(accuracy) == [] and _error_bar_positions(stages) == []
    figure = methods_figure(ROWS, "t", CURVE, {"chance (2 options)": 0.5})
    accuracy, _, stages = figure.axes
    assert _error_bar_positions(stages) == [0, 1, 2, 3]
    assert _texts(stages) == ["16.0", "14.0", "41.0", "42.0"]
    assert stages.get_xlabel().startswith("Coconut stage") and stages.get_ylabel() == "accuracy after the stage (%)"
    for axes in (accuracy, stages):  # chance on both accuracy panels
        chance = [line for line in axes.get_lines() if line.get_label() == "chance (2 options): 50.0%"]
        assert len(chance) == 1 and list(chance[0].get_ydata()) == [50.0, 50.0]


def test_titles_count_seeds_and_questions_in_the_right_number():
    assert counted(1, "seed") == "1 seed" and counted(3, "seed") == "3 seeds" and counted(0, "seed") == "0 seeds"
    assert figure_title("prosqa_style", 1, 1) == "prosqa_style: 1 training seed, 1 test question"
    assert (
        figure_title("prosqa_style", 3, 500)
        == "prosqa_style: 3 training seeds, error bars: ± std over seeds, 500 test questions"
    )


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
