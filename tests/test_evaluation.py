"""Evaluation harness: every method end to end on tiny random models, batching, sampling, seeds, the CLI."""

import dataclasses
import importlib.util
import json
from pathlib import Path

import datasets
import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from softcot_hf import CoconutForCausalLM, SoftCoTForCausalLM, SoftCoTProcessor
from softcot_hf.cli import main
from softcot_hf.data import get_task
from softcot_hf.evaluation import majority_vote, run_evaluation
from softcot_hf.generation import encode_prompts
from softcot_hf.methods import METHODS, get_method

FIXTURES = Path(__file__).parent / "fixtures" / "tasks"
EXAMPLES = Path(__file__).parents[1] / "examples"
TASK = get_task("gsm8k")
# Questions in the tiny tokenizers' vocabulary, so prompts are real tokens rather than [UNK].
ROWS = [
    {"question": "what is 2 plus 3 ?", "steps": ["2 plus 3 = 5"], "answer": "5"},
    {"question": "tom has 4 apples and eats 1 . how many apples does tom have left ?", "steps": [], "answer": "3"},
    {"question": "what is 7 minus 2 ?", "steps": ["7 minus 2 = 5"], "answer": "5"},
]
SUMMARY_KEYS = {
    "task",
    "method",
    "model",
    "split",
    "num_examples",
    "num_samples",
    "seeds",
    "accuracy",
    "accuracy_std",
    "accuracy_per_seed",
    "mean_generated_tokens",
    "wall_time_s",
    "settings",
    "softcot_hf_version",
    "date",
}
ROW_KEYS = {"seed", "index", "question", "generated", "extracted", "prediction", "gold", "correct", "generated_tokens"}


@pytest.fixture(scope="module")
def dataset() -> datasets.Dataset:
    return datasets.Dataset.from_list(ROWS)


@pytest.fixture(scope="module")
def artifacts(pair_dirs, tmp_path_factory) -> dict[str, dict]:
    """run_evaluation arguments of every method: artifacts built and saved as the training code saves them."""
    root = tmp_path_factory.mktemp("artifacts")
    assistant, backbone, gpt2 = pair_dirs["llama_assistant"], pair_dirs["llama_backbone"], pair_dirs["gpt2_backbone"]
    template = get_method("softcot").build_prompt(TASK, "{question}")

    torch.manual_seed(0)
    softcot = SoftCoTForCausalLM.from_assistant_and_backbone(assistant, backbone, num_thought_tokens=4)
    softcot.save_pretrained(root / "softcot")
    SoftCoTProcessor.from_assistant_and_backbone(
        assistant, backbone, num_thought_tokens=4, backbone_template=template
    ).save_pretrained(root / "softcot")

    lora = get_peft_model(
        AutoModelForCausalLM.from_pretrained(backbone),
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    lora.save_pretrained(root / "lora")
    AutoTokenizer.from_pretrained(backbone).save_pretrained(root / "lora")

    tokenizer = AutoTokenizer.from_pretrained(gpt2)
    coconut = CoconutForCausalLM.from_base(gpt2, tokenizer, num_latent_thoughts=2)
    coconut.save_pretrained(root / "coconut")
    tokenizer.save_pretrained(root / "coconut")

    found = {
        "zero_shot_cot": {"backbone": backbone},
        "assist_cot": {"assistant": assistant, "backbone": backbone},
        "softcot": {"model": str(root / "softcot")},
        "softcotpp": {"model": str(root / "softcot")},  # one thought set: SoftCoT (M > 1: test_softcotpp_training)
        "lora": {"model": str(root / "lora")},
        "coconut": {"model": str(root / "coconut")},
        "no_thoughts": {"model": str(root / "coconut")},
        "cot": {"model": gpt2},
        "no_cot": {"model": gpt2},
        "icot_si": {"model": gpt2},  # a plain fine-tuned LM, as no_cot's
    }
    try:
        from softcot_hf import CoTUnkForCausalLM
    except ImportError:
        return found
    torch.manual_seed(0)
    CoTUnkForCausalLM.from_backbone(backbone, num_thought_tokens=4).save_pretrained(root / "cot_unk")
    SoftCoTProcessor.from_assistant_and_backbone(
        None, backbone, num_thought_tokens=4, backbone_template=template
    ).save_pretrained(root / "cot_unk")
    found["cot_unk"] = {"model": str(root / "cot_unk")}
    return found


def _read_rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_end_to_end(method, artifacts, dataset, tmp_path):
    """Each method with self-consistency over 2 sampled paths (greedy runs: the batching and CLI tests)."""
    if method not in artifacts:
        pytest.skip(f"{method}'s model class is not in softcot_hf yet")
    summary = run_evaluation(
        "gsm8k", method, dataset=dataset, max_new_tokens=5, batch_size=2, seeds=(41,), num_samples=2,
        output_dir=tmp_path, num_hint_tokens=3, **artifacts[method],
    )  # fmt: skip
    assert set(summary) == SUMMARY_KEYS
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert (summary["task"], summary["method"], summary["num_examples"]) == ("gsm8k", method, len(ROWS))
    rows = _read_rows(tmp_path)
    assert [row["index"] for row in rows] == [0, 1, 2]
    for row, example in zip(rows, ROWS, strict=True):
        assert set(row) == ROW_KEYS
        assert (row["question"], row["gold"]) == (example["question"], example["answer"])
        assert len(row["generated"]) == len(row["extracted"]) == len(row["generated_tokens"]) == 2
        assert row["extracted"] == [TASK.extract_answer(text) for text in row["generated"]]
        assert row["prediction"] == majority_vote(row["extracted"])
        assert row["correct"] == (row["prediction"] is not None and TASK.score(row["prediction"], row["gold"]))
        # Coconut's count includes <bot>, its 2 latents and <eot> on top of the answer tokens.
        assert all(
            0 <= count <= 5 + (4 if method in ("coconut", "no_thoughts") else 0) for count in row["generated_tokens"]
        )
    assert summary["accuracy"] == sum(row["correct"] for row in rows) / len(rows)
    tokens = [count for row in rows for count in row["generated_tokens"]]
    assert summary["mean_generated_tokens"] == pytest.approx(sum(tokens) / len(tokens))
    assert any(len(set(row["generated"])) > 1 for row in rows)  # the paths were sampled
    if method == "coconut":
        assert min(tokens) >= 4  # the thoughts are always generated


def test_generated_text_stops_at_the_first_stop_token(artifacts):
    """A path ends at the first EOS of the generation config: its count and text cover exactly the tokens before it."""
    runner = get_method("cot").load_runner(TASK, **artifacts["cot"])
    question = ROWS[0]["question"]
    inputs = encode_prompts(runner.tokenizer, [get_method("cot").build_prompt(TASK, question)], chat=False)
    free = runner.model.generate(**inputs, do_sample=False, max_new_tokens=6, eos_token_id=None)
    new = free[0, inputs["input_ids"].shape[1] :].tolist()
    cut = next(i for i in range(1, len(new)) if new[i] not in new[:i])  # first token not seen before
    runner.model.generation_config.eos_token_id = new[cut]
    texts, counts = runner.generate([question], do_sample=False, max_new_tokens=6)
    assert counts == [cut]
    assert texts == [runner.tokenizer.decode(new[:cut], skip_special_tokens=True).strip()]


@pytest.mark.parametrize("method", ["zero_shot_cot", "softcot", "coconut", "cot_unk"])
def test_batched_generation_equals_one_by_one(method, artifacts):
    """Left padding is right: a batch of prompts of different lengths generates what each prompt does alone."""
    if method not in artifacts:
        pytest.skip(f"{method}'s model class is not in softcot_hf yet")
    runner = get_method(method).load_runner(TASK, **artifacts[method])
    # Init-scale tiny models answer every prompt alike; larger weights make the answer depend on the prompt.
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in runner.model.parameters():
            if parameter.dim() >= 2:
                parameter.normal_(0, 0.3)
    questions = [row["question"] for row in ROWS]
    batched = runner.generate(questions, do_sample=False, max_new_tokens=6)
    alone = [runner.generate([question], do_sample=False, max_new_tokens=6) for question in questions]
    assert batched == ([texts[0] for texts, _ in alone], [counts[0] for _, counts in alone])
    assert len(set(batched[0])) > 1  # different prompts, different answers: a mix-up would show


def test_self_consistency_samples_and_votes(artifacts, dataset, tmp_path):
    summary = run_evaluation(
        "gsm8k", "zero_shot_cot", dataset=dataset, max_new_tokens=4, batch_size=2, num_samples=3, seeds=(41, 42),
        output_dir=tmp_path, **artifacts["zero_shot_cot"],
    )  # fmt: skip
    rows = _read_rows(tmp_path)
    assert [(row["seed"], row["index"]) for row in rows] == [(s, i) for s in (41, 42) for i in range(3)]
    assert all(len(row["generated"]) == len(row["extracted"]) == len(row["generated_tokens"]) == 3 for row in rows)
    assert summary["settings"]["do_sample"] and summary["num_samples"] == 3
    assert len(summary["accuracy_per_seed"]) == 2
    # Sampled paths differ within a question and between seeds.
    assert any(len(set(row["generated"])) > 1 for row in rows)
    assert [row["generated"] for row in rows[:3]] != [row["generated"] for row in rows[3:]]


def test_seeds_reproduce_predictions(artifacts, dataset, tmp_path):
    arguments = dict(dataset=dataset, max_new_tokens=4, batch_size=2, num_samples=2, seeds=(43,))
    run_evaluation("gsm8k", "cot", output_dir=tmp_path / "a", **arguments, **artifacts["cot"])
    run_evaluation("gsm8k", "cot", output_dir=tmp_path / "b", **arguments, **artifacts["cot"])
    first, second = _read_rows(tmp_path / "a"), _read_rows(tmp_path / "b")
    assert first == second


def test_evaluation_leaves_the_callers_random_streams_alone(artifacts, dataset):
    """A training run that evaluates between epochs draws the same numbers afterwards as if it had not evaluated."""
    import random

    import numpy as np

    def draws():
        return random.random(), float(np.random.rand()), torch.rand(3).tolist()

    torch.manual_seed(7), random.seed(7), np.random.seed(7)
    expected = draws()
    torch.manual_seed(7), random.seed(7), np.random.seed(7)
    run_evaluation("gsm8k", "cot", dataset=dataset, max_new_tokens=4, num_samples=2, seeds=(43,), **artifacts["cot"])
    assert draws() == expected


def test_loaded_model_object_and_errors(pair_dirs, dataset):
    backbone = pair_dirs["gpt2_backbone"]
    model, tokenizer = AutoModelForCausalLM.from_pretrained(backbone), AutoTokenizer.from_pretrained(backbone)
    from_object = run_evaluation("gsm8k", "cot", model, tokenizer=tokenizer, dataset=dataset, max_new_tokens=3)
    from_path = run_evaluation("gsm8k", "cot", backbone, dataset=dataset, max_new_tokens=3)
    assert from_object["accuracy"] == from_path["accuracy"]
    custom = dataclasses.replace(TASK, name="my_arithmetic")  # a Task outside the registry: scored by its own rules
    assert run_evaluation(custom, "cot", backbone, dataset=dataset, max_new_tokens=3)["task"] == "my_arithmetic"
    with pytest.raises(ValueError, match="needs tokenizer="):
        run_evaluation("gsm8k", "cot", model, dataset=dataset)
    with pytest.raises(ValueError, match="assist_cot needs both"):
        run_evaluation("gsm8k", "assist_cot", backbone=backbone, dataset=dataset)
    with pytest.raises(ValueError, match="Unknown method"):
        run_evaluation("gsm8k", "magic", backbone, dataset=dataset)
    with pytest.raises(ValueError, match="needs sampled paths"):
        run_evaluation("gsm8k", "cot", backbone, dataset=dataset, num_samples=2, do_sample=False)


def test_eval_command_prints_the_table(pair_dirs, tmp_path, capsys):
    """`softcot-hf eval` on the gsm8k fixture in its original layout."""
    main(
        ["eval", "--task", "gsm8k", "--method", "no_cot", "--model", pair_dirs["gpt2_backbone"], "--data-dir",
         str(FIXTURES / "gsm8k"), "--limit", "2", "--max-new-tokens", "3", "--seeds", "41", "42",
         "--output-dir", str(tmp_path)]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert "| method | GSM8K |" in printed and "| No-CoT |" in printed
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["seeds"] == [41] and summary["num_examples"] == 2  # greedy: decoded once, whatever the seeds
    assert len(_read_rows(tmp_path)) == 2


def test_example_script_prints_the_paper_table(artifacts, tmp_path, capsys):
    """examples/evaluate_methods.py on the gsm8k fixture: two methods, one table, a chart."""
    spec = importlib.util.spec_from_file_location("evaluate_example", EXAMPLES / "evaluate_methods.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    summaries = example.main(
        ["--task", "gsm8k", "--data-dir", str(FIXTURES / "gsm8k"), "--limit", "2", "--max-new-tokens", "3",
         "--backbone", artifacts["zero_shot_cot"]["backbone"], "--softcot", artifacts["softcot"]["model"],
         "--output-dir", str(tmp_path)]
    )  # fmt: skip
    assert [summary["method"] for summary in summaries] == ["zero_shot_cot", "softcot"]
    printed = capsys.readouterr().out
    for label in ("| method | GSM8K |", "| Zero-Shot CoT |", "| SoftCoT |"):
        assert label in printed
    assert (tmp_path / "results.png").is_file() and (tmp_path / "softcot" / "predictions.jsonl").is_file()


def test_sampled_paths_do_not_depend_on_the_batch_size(artifacts, dataset, tmp_path):
    """Each sampled path has its own seed (run seed, question index, path): batches of 1, 2 or all give the same
    paths, with temperature, top-p and top-k applied per row."""
    arguments = dict(max_new_tokens=5, num_samples=3, seeds=(41,), temperature=1.0, top_p=0.9, top_k=20)
    by_size = [
        _read_rows_after(run_evaluation, tmp_path / f"b{size}", dataset, size, arguments, artifacts["cot"])
        for size in (1, 2, len(dataset))
    ]
    assert by_size[0] == by_size[1] == by_size[2]
    assert any(len(set(row["generated"])) > 1 for row in by_size[0])  # the paths of a question differ


def _read_rows_after(evaluate, folder, dataset, batch_size, arguments, artifact):
    evaluate("gsm8k", "cot", dataset=dataset, batch_size=batch_size, output_dir=folder, **arguments, **artifact)
    return [{key: row[key] for key in ("index", "question", "generated")} for row in _read_rows(folder)]
