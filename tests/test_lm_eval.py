"""lm-evaluation-harness end to end, offline: `softcot-hf lm-eval --model softcot|coconut` on a local generation task;
each logged answer is what `generate` gives for that prompt, cut at the task's stop sequence."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import build
from tiny import make_lm, make_tokenizer

from softcot_hf import CoconutForCausalLM

pytest.importorskip("lm_eval")

TASK = Path(__file__).parent / "fixtures" / "lm_eval"


def local_task(tmp_path: Path) -> Path:
    """The fixture task, with its data file at an absolute path."""
    folder = tmp_path / "tasks"
    folder.mkdir()
    data = TASK / "tiny_arithmetic.jsonl"
    (folder / "tiny_arithmetic.yaml").write_text(
        (TASK / "tiny_arithmetic.yaml").read_text().replace("test: tiny_arithmetic.jsonl", f"test: {data}")
    )
    return folder


def run_lm_eval(model_type: str, folder: Path, tmp_path: Path) -> list[dict]:
    """`softcot-hf lm-eval` in a fresh offline process; the logged samples, in document order."""
    output = tmp_path / f"out-{model_type}"
    command = [
        sys.executable, "-m", "softcot_hf.cli", "lm-eval", "--model", model_type, "--model_args",
        f"pretrained={folder}", "--tasks", "tiny_arithmetic", "--include_path", str(local_task(tmp_path)),
        "--batch_size", "2", "--device", "cpu", "--output_path", str(output), "--log_samples",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_DATASETS_CACHE": str(tmp_path / "ds")}
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "exact_match" in completed.stdout
    [samples_file] = output.rglob("samples_tiny_arithmetic_*.jsonl")
    samples = [json.loads(line) for line in samples_file.read_text().splitlines()]
    return sorted(samples, key=lambda sample: sample["doc_id"])


def questions() -> list[str]:
    return [json.loads(line)["question"] for line in (TASK / "tiny_arithmetic.jsonl").read_text().splitlines()]


def test_softcot_lm_eval_generates_with_soft_thoughts(pair_dirs, tmp_path):
    model, processor = build(pair_dirs)
    folder = tmp_path / "softcot"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    inputs = processor(questions())
    output = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    texts = processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    samples = run_lm_eval("softcot", folder, tmp_path)
    assert [sample["resps"][0][0] for sample in samples] == [text.split("Question:")[0] for text in texts]


def test_coconut_lm_eval(tmp_path):
    tokenizer = make_tokenizer("plain")
    model = CoconutForCausalLM.from_base(make_lm("plain", len(tokenizer), 32, seed=7), tokenizer, c_thought=1)
    folder = tmp_path / "coconut"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    tokenizer.padding_side = "left"
    inputs = tokenizer(questions(), return_tensors="pt", padding=True)
    output = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    texts = tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    samples = run_lm_eval("coconut", folder, tmp_path)
    assert [sample["resps"][0][0] for sample in samples] == [text.split("Question:")[0] for text in texts]


def test_loglikelihood_requests_are_refused_with_the_reason():
    from softcot_hf.lm_eval_models import LatentThoughtLM

    with pytest.raises(NotImplementedError, match="generation tasks only"):
        LatentThoughtLM.loglikelihood(None, [])
