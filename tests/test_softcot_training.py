"""SoftCoT training pipeline: learning signal, fp32 projection, assistant-state cache, checkpoints, resume, baselines,
bad input. Tiny models and a tiny GSM8K-layout data set written per test session."""

import json
import os
import random
import shutil
from pathlib import Path

import pytest
import torch
from conftest import build
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoProcessor

from softcot_hf import CoTUnkForCausalLM, SoftCoTForCausalLM, SoftCoTProcessor
from softcot_hf.data import get_task
from softcot_hf.methods import METHODS
from softcot_hf.pipelines import train
from softcot_hf.tiny import make_lm, make_tokenizer
from softcot_hf.training.assistant_cache import cache_fingerprint, load_or_compute_assistant_states
from softcot_hf.training.softcot_training import enable_frozen_gradient_checkpointing


def write_gsm8k(
    folder: Path, n_train: int = 16, n_test: int = 3, seed: int = 0, with_steps: bool = True, max_steps: int = 1
) -> str:
    """GSM8K-layout train/test files of small additions (their words are in the tiny tokenizers' vocabulary); with
    `max_steps` (at most 3) > 1, rationales of 1 to `max_steps` lines, so targets differ in length."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        lines = []
        for _ in range(n):
            terms = [rng.randint(1, 5), rng.randint(1, 5)]
            if max_steps > 1:
                terms += [rng.randint(0, 1) for _ in range(rng.randint(1, max_steps) - 1)]
            steps = [f"{sum(terms[:k])} + {terms[k]} = {sum(terms[: k + 1])} .\n" for k in range(1, len(terms))]
            rationale = "".join(steps) if with_steps else ""
            question = f"what is {' plus '.join(map(str, terms))} ?"
            lines.append(json.dumps({"question": question, "answer": f"{rationale}#### {sum(terms)}"}))
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return str(folder)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
    return write_gsm8k(tmp_path_factory.mktemp("gsm8k"))


def run(pair_dirs, data_dir, output_dir, method="softcot", **kwargs) -> dict:
    settings = dict(max_steps=4, per_device_train_batch_size=4, learning_rate=1e-2, save_steps=2, evaluate=False)
    settings.update(logging_steps=100, seed=3, backbone=pair_dirs["llama_backbone"], data_dir=data_dir)
    if method == "softcot":
        settings["assistant"] = pair_dirs["llama_assistant"]
    settings.update(kwargs)
    return train(METHODS[method].arguments(method=method, output_dir=str(output_dir), **settings))


def trained(folder) -> dict[str, torch.Tensor]:
    return load_file(Path(folder) / "model.safetensors")


def test_training_target_is_rationale_then_the_answer_the_task_extracts():
    from softcot_hf.training.softcot_data import training_target

    assert training_target(get_task("gsm8k"), ["2 + 3 = 5 ."], "5") == "2 + 3 = 5 .\nThe answer is 5."
    assert training_target(get_task("aqua"), ["step"], "B").endswith("The answer is (B).")
    assert training_target(get_task("strategyqa"), ["step"], "no").endswith("The answer is no.")


def test_loss_goes_down_when_only_the_assistant_sees_the_question():
    """The backbone's prompt is only the thought slots; only the assistant reads the numbers. The loss can only fall
    this far if the projection carries the assistant's information, and it rises again when each row gets another
    row's assistant prompt. (Weights scaled to std ~0.5: at std 0.02 a 2-layer model barely reacts to its input.)"""
    tok_a, tok_b = make_tokenizer("llama"), make_tokenizer("llama")
    assistant, backbone = make_lm("llama", len(tok_a), 24, seed=1), make_lm("llama", len(tok_b), 32, seed=2)
    with torch.no_grad():
        for name, weight in [*assistant.named_parameters(), *backbone.named_parameters()]:
            if "norm" not in name:
                weight.mul_(25.0)
    torch.manual_seed(0)
    model = SoftCoTForCausalLM.from_assistant_and_backbone(
        assistant, backbone, num_thought_tokens=2, assistant_tokenizer=tok_a, backbone_tokenizer=tok_b
    )
    processor = SoftCoTProcessor(tok_a, tok_b, 2, backbone_template="{thoughts}", use_chat_template=False)
    sums = [(1, 2), (3, 4), (5, 5), (2, 0)]
    batch = processor([""] * len(sums), answers=[str(a + b) for a, b in sums])
    with_questions = processor([f"what is {a} plus {b} ?" for a, b in sums])
    batch["assistant_input_ids"] = with_questions["assistant_input_ids"]
    batch["assistant_attention_mask"] = with_questions["assistant_attention_mask"]
    optimizer = torch.optim.AdamW(model.projection.parameters(), lr=1e-2)
    model.train()
    losses = []
    for _ in range(40):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.35 * losses[0]
    with torch.no_grad():
        order = torch.tensor([1, 2, 3, 0])
        shuffled = {**batch, "assistant_input_ids": batch["assistant_input_ids"][order]}
        shuffled["assistant_attention_mask"] = batch["assistant_attention_mask"][order]
        assert model(**shuffled).loss.item() > losses[-1] + 1.5


def test_fp32_projection_moves_at_lr_2e5_where_a_bf16_one_barely_does(pair_dirs):
    def change(projection_dtype) -> tuple[float, float]:
        """(relative change of the weight, fraction of its entries that changed) after 5 AdamW steps at 2e-5."""
        model, processor = build(pair_dirs, num_thought_tokens=2, seed=0)
        model.assistant.to(torch.bfloat16)
        model.backbone.to(torch.bfloat16)
        model.projection.to(projection_dtype)
        batch = processor(["what is 2 plus 3 ?", "what is 1 plus 1 ?"], answers=["5", "2"])
        before = model.projection.linear_1.weight.detach().float().clone()
        optimizer = torch.optim.AdamW(model.projection.parameters(), lr=2e-5, weight_decay=0.0)
        for _ in range(5):
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        after = model.projection.linear_1.weight.detach().float()
        return ((after - before).norm() / before.norm()).item(), (after != before).float().mean().item()

    (fp32, fp32_moved), (bf16, bf16_moved) = change(torch.float32), change(torch.bfloat16)
    assert fp32 > 1e-4 and fp32_moved > 0.95  # every entry moves by ~5 lr
    assert bf16 < 0.3 * fp32 and bf16_moved < 0.1  # only entries near zero: the rest round back to the same bf16


def test_gradient_checkpointing_recomputes_frozen_layers_and_keeps_the_gradient(pair_dirs):
    model, processor = build(pair_dirs, num_thought_tokens=2, seed=0)
    batch = processor(["what is 2 plus 3 ?"], answers=["5"])
    model.train()
    model(**batch).loss.backward()
    reference = model.projection.linear_1.weight.grad.clone()
    model.zero_grad()
    enable_frozen_gradient_checkpointing(model.backbone)
    calls = []
    model.backbone.model.layers[0].mlp.register_forward_pre_hook(lambda *args: calls.append(1))
    model(**batch).loss.backward()
    assert len(calls) == 2  # forward, then recomputed in backward
    torch.testing.assert_close(model.projection.linear_1.weight.grad, reference)
    assert not model.backbone.training and not model.backbone.model.layers[0].mlp.training


def test_cache_fingerprint_changes_with_n_template_and_assistant(pair_dirs, tmp_path):
    model, processor = build(pair_dirs, num_thought_tokens=2, seed=0)
    questions = ["what is 2 plus 3 ?", "what is 1 plus 1 ?"]

    def rows(proc):
        return [proc.assistant_prompt_ids(q) for q in questions]

    key = cache_fingerprint(model, rows(processor))
    assert cache_fingerprint(model, rows(processor)) == key
    other_n, other_n_processor = build(pair_dirs, num_thought_tokens=3, seed=0)
    assert cache_fingerprint(other_n, rows(other_n_processor)) != key
    templated = SoftCoTProcessor(
        processor.assistant_tokenizer, processor.backbone_tokenizer, 2, assistant_template="solve : {question}"
    )
    assert cache_fingerprint(model, rows(templated)) != key
    other_assistant, _ = build(pair_dirs, assistant="qwen_assistant", num_thought_tokens=2, seed=0)
    assert cache_fingerprint(other_assistant, rows(processor)) != key
    with torch.no_grad():  # same name and config, different weights
        model.assistant.lm_head.weight.add_(1e-3)
    assert cache_fingerprint(model, rows(processor)) != key
    with torch.no_grad():
        model.assistant.lm_head.weight.sub_(1e-3)

    pad = processor.assistant_pad_token_id
    states, path, hit = load_or_compute_assistant_states(model, rows(processor), pad, tmp_path)
    assert not hit and path.exists() and states.shape == (2, 2, model.config.assistant_config.hidden_size)
    again, same_path, hit = load_or_compute_assistant_states(model, rows(processor), pad, tmp_path)
    assert hit and same_path == path and torch.equal(again, states)
    path.write_bytes(path.read_bytes()[:40])  # a damaged file is computed again and replaced, never read
    again, same_path, hit = load_or_compute_assistant_states(model, rows(processor), pad, tmp_path)
    assert not hit and same_path == path and torch.equal(load_file(path)["assistant_states"], states)
    _, new_path, hit = load_or_compute_assistant_states(model, rows(templated), pad, tmp_path)
    assert not hit and new_path != path


def test_cache_on_equals_cache_off_and_checkpoints_hold_only_the_projection(pair_dirs, data_dir, tmp_path):
    cached = run(pair_dirs, data_dir, tmp_path / "cached", assistant_cache_dir=tmp_path / "cache")
    uncached = run(pair_dirs, data_dir, tmp_path / "uncached", assistant_cache=False)
    a, b = trained(cached["output_dir"]), trained(uncached["output_dir"])
    assert sorted(a) == ["projection.linear_1.bias", "projection.linear_1.weight"]
    for key in a:  # same examples, the assistant run on differently padded batches: float32 noise only
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=1e-5)
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 1
    for checkpoint in sorted((tmp_path / "cached" / "checkpoints").glob("checkpoint-*")):
        assert sorted(trained(checkpoint)) == sorted(a)
        files = set(os.listdir(checkpoint))
        assert {"optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json", "model.safetensors"} <= files
        assert sum(f.stat().st_size for f in checkpoint.iterdir()) < 200_000  # no frozen weights in there
    # the final folder is a ready SoftCoT checkpoint
    model = AutoModelForCausalLM.from_pretrained(cached["output_dir"])
    processor = AutoProcessor.from_pretrained(cached["output_dir"])
    assert isinstance(model, SoftCoTForCausalLM) and isinstance(processor, SoftCoTProcessor)
    torch.testing.assert_close(model.projection.linear_1.weight, a["projection.linear_1.weight"])
    assert "Here are prompts" in processor.backbone_template and "The answer is" in processor.backbone_template
    model.generate(**processor(["what is 2 plus 3 ?"]), max_new_tokens=3, do_sample=False)


def test_resumed_run_ends_with_the_uninterrupted_projection(pair_dirs, data_dir, tmp_path):
    full = run(pair_dirs, data_dir, tmp_path / "full", max_steps=6, per_device_train_batch_size=3, save_steps=2)
    interrupted = tmp_path / "interrupted"
    shutil.copytree(full["output_dir"], interrupted)  # as if killed after step 4: only checkpoint-4 survived
    for path in [*interrupted.iterdir(), *(interrupted / "checkpoints").iterdir()]:
        if path.name not in ("checkpoint-4", "checkpoints", "run.json") and path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    resumed = run(pair_dirs, data_dir, interrupted, max_steps=6, per_device_train_batch_size=3, save_steps=2)
    assert resumed["train_metrics"]["train_runtime"] >= 0
    state = json.loads((interrupted / "checkpoints" / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6
    a, b = trained(full["output_dir"]), trained(interrupted)
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=0, rtol=0)


def test_cot_unk_and_lora_ride_the_same_pipeline_and_save_only_their_weights(pair_dirs, data_dir, tmp_path):
    from peft import AutoPeftModelForCausalLM

    cot_unk = run(pair_dirs, data_dir, tmp_path / "cot_unk", method="cot_unk")
    weights = trained(cot_unk["output_dir"])
    assert sorted(weights) == ["thought_embeddings.weight"] and weights["thought_embeddings.weight"].shape[0] == 4
    model = AutoModelForCausalLM.from_pretrained(cot_unk["output_dir"])
    processor = AutoProcessor.from_pretrained(cot_unk["output_dir"])
    assert isinstance(model, CoTUnkForCausalLM) and processor.assistant_tokenizer is None
    torch.testing.assert_close(model.thought_embeddings.weight, weights["thought_embeddings.weight"])
    model.generate(**processor(["what is 2 plus 3 ?"]), max_new_tokens=3, do_sample=False)

    lora = run(pair_dirs, data_dir, tmp_path / "lora", method="lora")
    folder = Path(lora["output_dir"])
    adapter = load_file(folder / "adapter_model.safetensors")
    assert adapter and all("lora_" in key for key in adapter)
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == pair_dirs["llama_backbone"]
    assert (folder / "tokenizer.json").exists() and not (folder / "model.safetensors").exists()
    for checkpoint in (folder / "checkpoints").glob("checkpoint-*"):
        assert all("lora_" in key for key in load_file(checkpoint / "adapter_model.safetensors"))
    AutoPeftModelForCausalLM.from_pretrained(folder)


def test_training_ends_with_an_evaluation_of_the_artifact(pair_dirs, data_dir, tmp_path):
    result = run(
        pair_dirs, data_dir, tmp_path / "evaluated", max_steps=1, evaluate=True, eval_limit=2, max_new_tokens=4
    )
    summary = json.loads((tmp_path / "evaluated" / "eval" / "summary.json").read_text())
    assert summary["method"] == "softcot" and summary["num_examples"] == 2 and summary["split"] == "test"
    assert result["eval"]["accuracy"] == summary["accuracy"]
    assert (tmp_path / "evaluated" / "eval" / "predictions.jsonl").exists()


def test_task_without_rationales_is_refused(pair_dirs, tmp_path):
    no_steps = write_gsm8k(tmp_path / "no_steps", with_steps=False)
    with pytest.raises(ValueError, match="no rationale steps"):
        run(pair_dirs, no_steps, tmp_path / "out")


def test_unloadable_id_names_it_and_says_how_to_fix(pair_dirs, data_dir, tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(OSError, match=r"(?s)'no-such-org/no-such-model'.*download.*local path"):
        run(pair_dirs, data_dir, tmp_path / "out", assistant="no-such-org/no-such-model", max_steps=1)


def test_output_dir_with_another_models_checkpoint_is_refused(pair_dirs, data_dir, tmp_path):
    run(pair_dirs, data_dir, tmp_path / "out", method="cot_unk", max_steps=2)
    with pytest.raises(ValueError, match=r"a cot_unk run of other settings \(assistant: None -> '.*method: 'cot_unk'"):
        run(pair_dirs, data_dir, tmp_path / "out", method="softcot", max_steps=2)
    with pytest.raises(ValueError, match=r"a cot_unk run of other settings \(num_thought_tokens: 4 -> 2\)"):
        run(pair_dirs, data_dir, tmp_path / "out", method="cot_unk", max_steps=2, num_thought_tokens=2)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a softcot-hf training run"):
        run(pair_dirs, data_dir, tmp_path / "mine", method="cot_unk", max_steps=2)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_rerunning_a_finished_run_changes_nothing_and_says_so(pair_dirs, data_dir, tmp_path, capsys):
    first = run(pair_dirs, data_dir, tmp_path / "run")
    before = folder_bytes(tmp_path / "run")
    again = run(pair_dirs, data_dir, tmp_path / "run")
    assert folder_bytes(tmp_path / "run") == before
    assert "nothing to train" in capsys.readouterr().out
    assert again["already_trained"] and (again["global_step"], again["train_loss"]) == (4, first["train_loss"])
