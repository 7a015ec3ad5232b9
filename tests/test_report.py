"""Results table and chart from several summaries, through the Python API and `softcot-hf report`."""

import json
import os
import subprocess
import sys

import pytest

from softcot_hf.cli import main
from softcot_hf.evaluation import load_summaries, plot_summaries, summarize_table


def _summary(task, method, accuracy, std, num_samples=1, model="out/model", tokens=10.0, seeds=(41, 42), **settings):
    return {
        "task": task,
        "method": method,
        "model": model,
        "num_samples": num_samples,
        "seeds": list(seeds),
        "accuracy": accuracy,
        "accuracy_std": std,
        "mean_generated_tokens": tokens,
        "settings": settings,
    }


SUMMARIES = [
    _summary("aqua", "softcot", 0.563, 0.0041),
    _summary("gsm8k", "softcot", 0.8103, 0.0012, tokens=120.5),
    _summary("gsm8k", "zero_shot_cot", 0.7961, 0.0, seeds=(41,)),
    _summary("gsm8k", "softcot", 0.85, 0.01, num_samples=10),
]


def test_table_is_methods_by_tasks_in_the_papers_order():
    assert summarize_table(SUMMARIES) == (
        "| method | GSM8K | AQuA |\n"
        "|---|---|---|\n"
        "| Zero-Shot CoT | 79.61 | - |\n"
        "| SoftCoT | 81.03 ± 0.12 | 56.30 ± 0.41 |\n"
        "| SoftCoT + SC (10) | 85.00 ± 1.00 | - |\n"
    )
    assert "| SoftCoT | 81.03 ± 0.12 / 120.5 tok |" in summarize_table(SUMMARIES, show_tokens=True)


def test_table_names_models_only_when_a_method_has_several():
    table = summarize_table(
        [_summary("gsm8k", "lora", 0.5, 0.0, model="a/llama"), _summary("gsm8k", "lora", 0.6, 0.0, model="b/qwen")]
    )
    assert "| LoRA fine-tuning [a/llama] | 50.00 ± 0.00 |" in table
    assert "| LoRA fine-tuning [b/qwen] | 60.00 ± 0.00 |" in table
    with pytest.raises(ValueError, match="Two summaries"):
        summarize_table([SUMMARIES[0], SUMMARIES[0]])


def test_rows_are_what_was_evaluated_not_folder_names(tmp_path):
    """Two runs whose folders share a base name stay two rows with their own numbers; settings that differ (here
    the sampling temperature) name their rows; a single greedy run shows no spread."""
    summaries = [
        _summary("gsm8k", "softcot", 0.5, 0.0, model="runs/a/softcot", seeds=(41,)),
        _summary("aqua", "softcot", 0.3, 0.0, model="runs/a/softcot", seeds=(41,)),
        _summary("gsm8k", "softcot", 0.7, 0.0, model="runs/b/softcot", seeds=(41,)),
        _summary("gsm8k", "cot", 0.2, 0.01, model="runs/cot", num_samples=5, temperature=0.7),
        _summary("gsm8k", "cot", 0.4, 0.02, model="runs/cot", num_samples=5, temperature=1.0),
    ]
    for number, summary in enumerate(summaries):  # through the files, as `softcot-hf report` reads them
        folder = tmp_path / str(number) / "eval"
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps(summary))
    table = summarize_table(load_summaries([tmp_path]))
    assert "| SoftCoT [runs/a/softcot] | 50.00 | 30.00 |" in table
    assert "| SoftCoT [runs/b/softcot] | 70.00 | - |" in table
    assert "| CoT + SC (5) (temperature=0.7) | 20.00 ± 1.00 | - |" in table
    assert "| CoT + SC (5) (temperature=1.0) | 40.00 ± 2.00 | - |" in table
    assert "± 0.00" not in table and len(table.splitlines()) == 6


def test_chart_is_a_png(tmp_path):
    path = plot_summaries(SUMMARIES, tmp_path / "chart" / "results.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_report_command_reads_files_and_folders(tmp_path, capsys):
    for number, summary in enumerate(SUMMARIES):
        folder = tmp_path / "runs" / f"run{number}"
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps(summary))
    assert len(load_summaries([tmp_path / "runs"])) == 4
    assert load_summaries([tmp_path / "runs" / "run1" / "summary.json"]) == [SUMMARIES[1]]
    with pytest.raises(FileNotFoundError, match="No summary.json"):
        load_summaries([tmp_path / "nothing"])

    main(["report", str(tmp_path / "runs"), "--output-dir", str(tmp_path / "report")])
    assert summarize_table(SUMMARIES) in capsys.readouterr().out
    assert (tmp_path / "report" / "results.md").read_text() == summarize_table(SUMMARIES, show_tokens=True)
    assert (tmp_path / "report" / "results.png").read_bytes()[:4] == b"\x89PNG"


def test_metrics_load_offline():
    """In a fresh process in offline mode, with every proxied connection pointed at a dead port, both shipped metrics
    load and compute."""
    code = (
        "from softcot_hf.evaluation import load_metric\n"
        "accuracy = load_metric('answer_accuracy', 'gsm8k')\n"
        "a = accuracy.compute(predictions=['The answer is 18.', 'no'], references=['18', '3'])\n"
        "t = load_metric('mean_generated_tokens').compute(predictions=[4, 8])\n"
        "print(a['accuracy'], t['mean_generated_tokens'])\n"
    )
    offline = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1"}
    dead = {name: "http://127.0.0.1:9" for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
    environment = {key: value for key, value in os.environ.items() if key.lower() != "no_proxy"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**environment, **offline, **dead},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.5", "6.0"]
