"""Smoke runs of the benchmarks (`--quick`: toy shapes, one timed run each; not timed) and their shared helpers."""

import json
import sys

import pytest
import torch
from tiny import SHARED

from softcot_hf.bench import find_benchmarks_dir, list_benchmarks, run_benchmark
from softcot_hf.cli import main as cli_main

BENCHMARKS = [
    "checkpoint_size",
    "coconut_generate",
    "coconut_train_step",
    "softcot_eval_throughput",
    "softcot_generate",
]
needs_shared = pytest.mark.skipif(
    not (SHARED / "data").is_dir() or not (SHARED / "tokenizers").is_dir(),
    reason=f"shared data and tokenizers not found at {SHARED}",
)


def run_quick(name: str, tmp_path) -> dict:
    output = tmp_path / f"{name}.json"
    run_benchmark(name, ["--quick", "--device", "cpu", "--output", str(output)])
    payload = json.loads(output.read_text())
    assert payload["benchmark"] == name
    assert {"date_utc", "command", "cpu", "cpu_count", "load_average", "torch"} <= set(payload["machine"])
    assert payload["settings"]["shapes"] == "tiny"
    return payload["results"]


def test_list_benchmarks():
    assert set(BENCHMARKS) <= set(list_benchmarks())
    assert "common" not in list_benchmarks()


def test_bench_errors_are_clear(tmp_path, capsys):
    with pytest.raises(SystemExit, match="Unknown benchmark 'nope'; choose one of checkpoint_size"):
        cli_main(["bench", "nope"])
    with pytest.raises(SystemExit, match="ship with the source repository"):
        cli_main(["bench", "--benchmarks-dir", str(tmp_path), "coconut_generate"])
    cli_main(["bench", "--list"])
    assert capsys.readouterr().out.split() == list_benchmarks()


@pytest.fixture()
def common():
    sys.path.insert(0, str(find_benchmarks_dir()))
    import common

    yield common
    sys.path.remove(str(find_benchmarks_dir()))


def test_peak_memory_sees_a_known_allocation(common):
    def allocate():
        x = torch.ones(1024, 1024)  # 4 MiB, freed on return
        return float(x.sum())

    peak = common.peak_memory(allocate, "cpu")
    assert 4 * 2**20 <= peak["peak_bytes"] < 5 * 2**20


def test_time_interleaved_runs_each_in_turn(common):
    calls = []
    timings = common.time_interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, "cpu", warmup=1, repeats=3
    )
    assert calls == ["a", "b"] * 4
    assert [len(timings[name]["runs_s"]) for name in "ab"] == [3, 3]


@needs_shared
def test_coconut_generate_quick(tmp_path):
    results = run_quick("coconut_generate", tmp_path)
    assert all(results["same_greedy_tokens"])
    assert set(results["generate"]) == {"official_batch1", "ours_batch1", "ours_batch4"}
    assert all(row["answer_tokens_per_s"] > 0 for row in results["generate"].values())
    assert set(results["step_costs"]) == {"batch1", "batch4"}
    for comparison in results["decodings"].values():  # eager dynamic / eager static / compiled static, equal tokens
        assert len(comparison["timings"]) == 6 and all(comparison["same_tokens"].values())


@needs_shared
def test_coconut_train_step_quick(tmp_path):
    results = run_quick("coconut_train_step", tmp_path)
    for row in results.values():
        assert row["loss_ours"] == pytest.approx(row["loss_reference"], abs=1e-4)
        assert row["peak_memory"]["ours_cached"]["peak_bytes"] > 0


@needs_shared
def test_softcot_eval_throughput_quick(tmp_path):
    results = run_quick("softcot_eval_throughput", tmp_path)
    assert all(results["same_greedy_tokens_first_batch"])
    assert results["ids_folded_into_scaled_vocab"]
    assert results["bucketed_same_answers_as_batched"]
    assert results["padding_share"]["bucketed"]["backbone"] < results["padding_share"]["batched"]["backbone"]


def test_softcot_generate_quick(tmp_path):
    results = run_quick("softcot_generate", tmp_path)
    assert set(results) == {"llama/batch1/prompt16", "llama/batch2/prompt16"}
    for row in results.values():
        assert set(row["parts_s"]) == {"assistant_forward", "projection", "insertion_beyond_plain_embedding"}
        assert len(row["decodings"]["timings"]) == 6 and all(row["decodings"]["same_tokens"].values())


def test_checkpoint_size_quick(tmp_path):
    results = run_quick("checkpoint_size", tmp_path)
    size = results["qwen"]["size"]
    # Qwen2.5-7B has 7.62B parameters; the projection is nn.Linear(1536, 3584) in fp32.
    assert size["backbone_params"] == 7_615_616_512
    assert size["projection_params"] == 1536 * 3584 + 3584
    assert 0 < size["files"]["model.safetensors"] - size["projection_fp32_bytes"] < 1024
    assert results["qwen"]["load"]["timings"]["softcot_from_pretrained"]["median_s"] > 0
