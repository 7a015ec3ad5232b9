"""`softcot-hf compare` at `--tiny` scale: the table end to end (train over two seeds, evaluate, pool, paired tests
against CoT, figure, files), a rerun that trains and evaluates nothing, the latent-count sweep reusing the table's
run, and the checks of its arguments (bad method names, sweep options) before any work."""

import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from softcot_hf.cli import main
from softcot_hf.compare_arguments import CompareArguments
from softcot_hf.compare_settings import FOOTING, TASKS, Budget
from softcot_hf.errors import InputError
from softcot_hf.methods import METHODS
from softcot_hf.pipelines.compare import footing, planned_runs, run_compare
from softcot_hf.pipelines.compare_report import sweep_figure
from softcot_hf.quickstart.pooling import compare, correct_per_question
from softcot_hf.run_files import DifferentRunError
from softcot_hf.training.method_arguments import TRAINED_METHODS

METHODS_RUN = ["cot", "zero_shot_cot", "coconut"]
SEEDS = [0, 1]  # two: the seeds are pooled (mean ± std) and McNemar runs per seed


@pytest.fixture(scope="module")
def tiny_table(tmp_path_factory):
    """The tiny table, run once, and its rerun in the same folder."""
    output_dir = tmp_path_factory.mktemp("compare")
    args = CompareArguments(methods=METHODS_RUN, seeds=SEEDS, output_dir=str(output_dir), tiny=True)
    first = run_compare(args)
    return args, first, run_compare(args)


def test_the_table_pools_seeds_and_tests_every_method_against_cot(tiny_table):
    args, result, _ = tiny_table
    task_dir = Path(args.output_dir) / args.task
    assert [row["method"] for row in result["rows"]] == METHODS_RUN
    for row in result["rows"]:
        runs = 1 if row["method"] == "zero_shot_cot" else len(SEEDS)  # frozen and greedy: evaluated once
        assert len(row["accuracy_per_seed"]) == runs
        assert row["num_questions"] == TASKS[args.task].scaled(True).test_examples
        assert (row["train_time_s_mean"] is None) == (row["method"] == "zero_shot_cot")
    assert [(c["a"], c["b"]) for c in result["comparisons"]] == [(m, "cot") for m in METHODS_RUN if m != "cot"]
    # The paired tests are the quickstart's, on the questions each run answered (its predictions.jsonl).
    runs = task_dir / "runs"
    outcomes = {"zero_shot_cot": [correct_per_question(runs / "zero_shot_cot" / "eval")]}
    for method in ("cot", "coconut"):
        outcomes[method] = [correct_per_question(runs / method / f"seed-{seed}" / "eval") for seed in SEEDS]
    for comparison in result["comparisons"]:
        assert comparison == compare(comparison["a"], "cot", outcomes)
        assert len(comparison["mcnemar_per_seed"]) == len(SEEDS)
    markdown = (task_dir / "compare.md").read_text()
    assert result["table"] in markdown and result["command"] in markdown
    assert all(sentence in markdown for sentence in result["sentences"])
    assert json.loads((task_dir / "compare.json").read_text())["rows"] == result["rows"]
    assert (task_dir / "compare.png").read_bytes().startswith(b"\x89PNG")
    assert not list(task_dir.glob(".*tmp*"))  # atomic writes leave no partial files


def test_a_rerun_trains_and_evaluates_nothing(tiny_table):
    _, first, second = tiny_table
    assert [record["already_trained"] for record in first["runs"]] == [False] * len(first["runs"])
    assert [record["already_trained"] for record in second["runs"]] == [True] * len(second["runs"])
    assert second["rows"] == first["rows"]  # train times included: kept from the finished runs, not re-measured
    assert second["comparisons"] == first["comparisons"]


def test_a_rerun_with_another_budget_is_refused_before_training(tiny_table, monkeypatch):
    args, _, _ = tiny_table
    monkeypatch.setitem(TASKS[args.task].budgets, "cot", Budget({"num_train_epochs": 1, "learning_rate": 1e-4}))
    changed = CompareArguments(methods=["cot"], seeds=[0], output_dir=args.output_dir, tiny=True)
    with pytest.raises(DifferentRunError, match="learning_rate"):
        run_compare(changed)


def test_the_sweep_trains_each_value_and_reuses_the_tables_run(tiny_table):
    args, _, _ = tiny_table
    sweep = CompareArguments(
        methods=["coconut"], seeds=[0], sweep=["c_thought", "1", "2"], output_dir=args.output_dir, tiny=True
    )
    assert [run.key for run in planned_runs(sweep)] == ["coconut", "coconut-c_thought=2"]
    result = run_compare(sweep)
    assert [record["already_trained"] for record in result["runs"]] == [True, False]  # c_thought 1: the table's
    assert [row["value"] for row in result["rows"]] == [1, 2]
    assert result["comparisons"] == []  # cot is not swept
    saved = json.loads((Path(args.output_dir) / args.task / "sweep-c_thought.json").read_text())
    assert saved["sweep"] == {"option": "c_thought", "values": [1, 2]}


def test_the_sweep_figure_draws_a_line_per_method_over_the_values():
    def point(value, accuracy, runs):
        per_seed = [accuracy] * runs
        return {"value": value, "accuracy_mean": accuracy, "accuracy_std": 0.1, "accuracy_per_seed": per_seed}

    curves = {
        "Coconut": [{**point(v, 0.5, 3), "tokens_mean": 5.0} for v in (1, 2, 4, 8)],
        "SIM-CoT": [{**point(v, 0.6, 1), "tokens_mean": 4.0} for v in (1, 2, 4, 8)],
    }
    figure = sweep_figure(curves, "c_thought", "title", {"chance": 0.5})
    accuracy, tokens = figure.axes
    assert [label.get_text() for label in accuracy.get_xticklabels()] == ["1", "2", "4", "8"]
    assert accuracy.get_xlabel() == "c_thought" and figure.get_suptitle() == "title"
    assert [text.get_text() for text in accuracy.get_legend().get_texts()] == ["chance: 50.0%", "Coconut", "SIM-CoT"]
    # Error bars only on the curve pooled over several seeds: one errorbar container each, caps only on Coconut's.
    assert [bool(container.lines[1]) for container in accuracy.containers] == [True, False]
    assert [list(line.get_ydata()) for line in tokens.get_lines()] == [[5.0] * 4, [4.0] * 4]
    with pytest.raises(ValueError, match="Nothing to plot"):
        sweep_figure({}, "c_thought", "title", {})


@pytest.mark.parametrize(
    "options, message",
    [
        ({"methods": ["cocnut"]}, "unknown method 'cocnut'; on synthetic_arithmetic choose from no_cot, cot"),
        ({"methods": ["lora"]}, "lora has no row for synthetic_arithmetic; add its training budget"),
        ({"task": "prosqa_style", "methods": ["zero_shot_cot"]}, "zero_shot_cot has no row for prosqa_style"),
        ({"task": "gsm8k"}, "--task must be one of synthetic_arithmetic, prosqa_style"),
        ({"methods": ["cot", "cot"]}, "--methods must be distinct names"),
        ({"seeds": []}, "--seeds must be one or more distinct seeds"),
        ({"sweep": ["c_thought"]}, "--sweep takes an option and one or more values"),
        ({"methods": ["zero_shot_cot"], "sweep": ["c_thought", "1"]}, "zero_shot_cot has no training option"),
        ({"methods": ["softcot"], "sweep": ["c_thought", "1"]}, r"--methods no_cot cot coconut simcot codi icot_si\)"),
        ({"methods": ["coconut"], "sweep": ["c_thought", "two"]}, "c_thought takes int values, got 'two'"),
        ({"methods": ["coconut"], "sweep": ["seed", "1", "2"]}, "--sweep: seed is the same for every run"),
        ({"methods": ["coconut"], "sweep": ["c_thought", "2", "2"]}, "--sweep must be an option and distinct"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(options, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        CompareArguments(output_dir=str(tmp_path / "out"), **options)
    assert not (tmp_path / "out").exists()


def test_the_command_line_refuses_an_unknown_method_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["compare", "--methods", "cocnut", "--output-dir", str(tmp_path)])
    assert "unknown method 'cocnut'" in str(exited.value.code) + capsys.readouterr().err


def test_sweep_values_take_the_options_type():
    args = CompareArguments(methods=["coconut"], sweep=["learning_rate", "1e-3", "3e-3"])
    assert args.sweep_values() == ("learning_rate", [1e-3, 3e-3])
    assert isinstance(CompareArguments(sweep=["c_thought", "4"], methods=["coconut"]).sweep_values()[1][0], int)
    with pytest.raises(InputError):
        CompareArguments(methods=["coconut"], sweep=["pad_latent_to_max", "maybe"])


@pytest.mark.parametrize("task", list(TASKS))
def test_every_budget_row_is_a_registry_method_with_those_options(task):
    for name, budget in TASKS[task].budgets.items():
        assert name in METHODS, name
        if budget is None:
            assert METHODS[name].arguments is None, f"{name} trains: give it a budget"
            continue
        fields = typing.get_type_hints(TRAINED_METHODS[name].arguments)
        for options in (budget.options, budget.tiny):
            assert set(options) <= set(fields), (name, set(options) - set(fields))
            assert not set(options) & set(FOOTING), f"{name}: the footing is set by compare, not a budget row"


@pytest.mark.parametrize("task", list(TASKS))
def test_the_footing_sets_only_what_no_budget_may(task, tmp_path):
    args = CompareArguments(task=task, output_dir=str(tmp_path))
    models = {"backbone": "b", "assistant": "a"}
    for run in planned_runs(args):
        if run.options is not None:
            assert set(footing(run, args.setup, models, args, 0, tmp_path)) <= set(FOOTING), run.key


def test_compare_help_renders_without_torch():
    code = (
        "import sys\nfrom softcot_hf.cli import main\ntry:\n    main(['compare', '--help'])\nexcept SystemExit:\n"
        "    pass\nprint(sorted(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--sweep" in done.stdout and "--methods" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"
