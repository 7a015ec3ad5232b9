"""Coconut as the official pipeline: new tokens copied from `<<`, best-on-validation checkpoints, the stage-0 skip,
the per-epoch optimizer reset, and the GSM8k chain (CoT, then Coconut from its best checkpoint) through `reproduce`."""

import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from test_coconut_training import FAST, Interrupt, Record, layouts, save_coconut_base, train_coconut
from tiny import SHARED
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from softcot_hf import CoconutForCausalLM
from softcot_hf.data import get_task
from softcot_hf.evaluation import run_evaluation
from softcot_hf.methods import get_method
from softcot_hf.pipelines import training as training_pipeline
from softcot_hf.quickstart import PROSQA_OPTIONS, shipped_models
from softcot_hf.reproduce import dry_run, load_recipe, plan, reproduce
from softcot_hf.reproduce_arguments import ReproduceArguments
from softcot_hf.tiny import WORDS, make_lm, make_tokenizer

ROOT = Path(__file__).resolve().parents[1]
GPT2_TOKENIZER = SHARED / "tokenizers" / "gpt2"
# Every epoch is a checkpoint (none deleted), evaluated on the validation split.
SELECTING = {k: v for k, v in FAST.items() if k != "save_steps"} | dict(
    select_checkpoint="best_validation", validation_limit=4, eval_batch_size=4, max_new_tokens=8, save_total_limit=None
)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict[str, str]:
    return save_coconut_base(tmp_path_factory.mktemp("coconut_pipeline"))


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


# New tokens' rows.


@pytest.mark.skipif(not GPT2_TOKENIZER.is_dir(), reason=f"GPT-2's tokenizer not found at {GPT2_TOKENIZER}")
def test_new_tokens_copy_the_row_of_gpt2s_double_angle_bracket():
    tokenizer = AutoTokenizer.from_pretrained(GPT2_TOKENIZER)
    base = make_lm("plain", len(tokenizer), hidden_size=16, seed=3)  # tied, as GPT-2
    source = base.get_input_embeddings().weight[16791].clone()  # "<<" in GPT-2's vocabulary, as the official code
    model = CoconutForCausalLM.from_base(base, tokenizer, new_token_init="<<")
    new_ids = [model.config.start_latent_token_id, model.config.end_latent_token_id, model.config.latent_token_id]
    assert min(new_ids) == 50257
    for embeddings in (model.get_input_embeddings(), model.get_output_embeddings()):
        torch.testing.assert_close(embeddings.weight[new_ids], source.expand(3, -1), rtol=0, atol=0)


def test_new_tokens_copy_both_rows_of_an_untied_lm_and_other_rows_stay():
    tokenizer = make_tokenizer("llama", [*WORDS, "<<"])
    base = make_lm("llama", len(tokenizer), seed=4)  # untied: input and output rows differ
    before = {name: tensor.clone() for name, tensor in base.state_dict().items()}
    source_id = tokenizer.convert_tokens_to_ids("<<")
    model = CoconutForCausalLM.from_base(base, tokenizer, new_token_init="<<")
    new_ids = [model.config.start_latent_token_id, model.config.end_latent_token_id, model.config.latent_token_id]
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        rows = model.language_model.state_dict()[name]
        torch.testing.assert_close(rows[new_ids], before[name][source_id].expand(3, -1), rtol=0, atol=0)
        assert torch.equal(rows[: len(before[name])], before[name])
    assert not torch.equal(before["model.embed_tokens.weight"][source_id], before["lm_head.weight"][source_id])
    # the training arguments reach from_base
    coconut = get_method("coconut")
    args = coconut.arguments(backbone="b", output_dir="unused", new_token_init="<<")
    built = coconut.build(
        make_lm("llama", len(before["lm_head.weight"]), seed=4), make_tokenizer("llama", [*WORDS, "<<"]), args
    )
    rows = built.get_input_embeddings().weight[new_ids]
    torch.testing.assert_close(rows, before["model.embed_tokens.weight"][source_id].expand(3, -1), rtol=0, atol=0)


def test_a_token_outside_the_vocabulary_is_refused_with_the_fix():
    tokenizer = make_tokenizer("plain")  # no "<<"
    with pytest.raises(ValueError, match=r"no token '<<'.*new_token_init=\"mean\""):
        CoconutForCausalLM.from_base(make_lm("plain", len(tokenizer), 16), tokenizer, new_token_init="<<")
    assert "<|latent|>" not in tokenizer.get_vocab()  # refused before touching the tokenizer


# Checkpoint selection, the stage-0 skip and the optimizer reset.


def test_the_best_validation_epoch_is_kept_not_the_last(base, tmp_path, monkeypatch):
    """Three epochs whose validation accuracies are scripted 0.25, 0.75, 0.5 (the real evaluation still runs): the
    artifact holds epoch 2's weights. The run skips stage 0, so the epochs run stages 1, 2, 2 with 1, 2, 2 thoughts."""
    scripted, seen = iter([0.25, 0.75, 0.5]), []
    real = training_pipeline.validation_accuracy

    def scripted_accuracy(model, tokenizer, questions, **settings):
        seen.append((model.config.num_latent_thoughts, real(model, tokenizer, questions, **settings)))
        return next(scripted)

    monkeypatch.setattr(training_pipeline, "validation_accuracy", scripted_accuracy)
    record = Record()
    run = tmp_path / "run"
    train_coconut(
        base["base"], run, train_file=base["train_file"], max_latent_stage=2, epochs_per_stage=1, start_stage=1,
        num_train_epochs=3, callbacks=[record], **SELECTING,
    )  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(run)
    assert layouts(record, tokenizer) == {0: {(1, 1)}, 1: {(2, 0)}, 2: {(2, 0)}}  # 2-step examples, from stage 1
    assert [thoughts for thoughts, _ in seen] == [1, 2, 2]
    selection = json.loads((run / "validation.json").read_text())
    assert [(e["epoch"], e["accuracy"], e["num_latent_thoughts"]) for e in selection["epochs"]] == [
        (1, 0.25, 1), (2, 0.75, 2), (3, 0.5, 2)
    ]  # fmt: skip
    assert selection["kept"]["epoch"] == 2 and selection["num_questions"] == 4
    artifact, checkpoints = weights(run), run / "checkpoints"
    assert same_weights(artifact, weights(checkpoints / f"checkpoint-{selection['kept']['step']}"))
    assert not same_weights(artifact, weights(checkpoints / "checkpoint-6"))
    assert AutoModelForCausalLM.from_pretrained(run).config.num_latent_thoughts == 2
    assert json.loads((run / "run.json").read_text())["select_checkpoint"] == "best_validation"


def test_an_interrupted_selecting_run_resumes_to_the_same_choice(base, tmp_path, monkeypatch):
    """Accuracy by the epoch's thoughts (0, 1, 2): 0.25, 0.75, 0.5. A run stopped after epoch 2's checkpoint and
    rerun keeps epoch 2 and records the three epochs, as the run that was not stopped."""
    by_thoughts = {0: 0.25, 1: 0.75, 2: 0.5}
    scripted = lambda model, *args, **kw: by_thoughts[model.config.num_latent_thoughts]  # noqa: E731
    monkeypatch.setattr(training_pipeline, "validation_accuracy", scripted)
    settings = dict(train_file=base["train_file"], max_latent_stage=2, epochs_per_stage=1, num_train_epochs=3)
    train_coconut(base["base"], tmp_path / "straight", **settings, **SELECTING)
    with pytest.raises(KeyboardInterrupt):
        train_coconut(base["base"], tmp_path / "resumed", **settings, **SELECTING, callbacks=[Interrupt(4)])
    train_coconut(base["base"], tmp_path / "resumed", **settings, **SELECTING)
    straight, resumed = (
        json.loads((tmp_path / run / "validation.json").read_text()) for run in ("straight", "resumed")
    )
    assert resumed == straight and straight["kept"]["epoch"] == 2
    for key, value in weights(tmp_path / "straight").items():
        torch.testing.assert_close(weights(tmp_path / "resumed")[key], value, rtol=0, atol=1e-6, msg=key)


class OptimizerState(TrainerCallback):
    """How many parameters have optimizer state when each epoch begins (after the stage callback ran)."""

    def __init__(self):
        self.sizes = []

    def on_epoch_begin(self, args, state, control, optimizer=None, **kwargs):
        self.sizes.append(len(optimizer.state))


@pytest.mark.parametrize("reset", ["stage", "epoch"])
def test_optimizer_reset_each_stage_or_each_epoch(base, tmp_path, reset):
    sizes = OptimizerState()
    train_coconut(
        base["base"], tmp_path / reset, train_file=base["train_file"], max_latent_stage=1, epochs_per_stage=2,
        num_train_epochs=3, optimizer_reset=reset, callbacks=[sizes], **FAST,
    )  # fmt: skip
    # epochs 0, 1 are stage 0, epoch 2 stage 1: a new stage always starts afresh, a new epoch only with "epoch"
    assert sizes.sizes[0] == 0 and sizes.sizes[2] == 0
    assert (sizes.sizes[1] == 0) == (reset == "epoch")


def test_selection_needs_a_validation_split_and_whole_epochs(base, tmp_path):
    with pytest.raises(ValueError, match="--save_steps must be unset with best_validation"):
        get_method("cot").arguments(
            backbone="b", output_dir=str(tmp_path), select_checkpoint="best_validation", save_steps=5
        )
    with pytest.raises(ValueError, match="--start_stage must be 0 or more"):
        get_method("coconut").arguments(backbone="b", output_dir=str(tmp_path), start_stage=-1)
    with pytest.raises(ValueError, match="gsm8k has none"):
        get_method("cot").arguments(backbone="b", output_dir=str(tmp_path), task="gsm8k", **SELECTING)


# The GSM8k chain through reproduce, on the quickstart's ProsQA-style model (it answers some questions right).


def _write_chain(root: Path) -> Path:
    data = {"data_options": PROSQA_OPTIONS}
    shared = dict(data, learning_rate=1e-3, per_device_train_batch_size=8, gradient_accumulation_steps=1, limit=16)
    shared |= dict(select_checkpoint="best_validation", validation_limit=12, eval_batch_size=12, max_new_tokens=24)
    shared |= dict(save_total_limit=None, logging_steps=1)
    backbone = str(shipped_models() / "prosqa_backbone")
    cot = {"method": "cot", "task": "prosqa_style", "eval": {**data, "limit": 4},
           "train": {"backbone": backbone, "num_train_epochs": 3, **shared}}  # fmt: skip
    coconut = {
        "method": "coconut", "task": "prosqa_style", "init_from_recipe": "chain/cot",
        "train": {"c_thought": 1, "max_latent_stage": 3, "epochs_per_stage": 1, "start_stage": 1,
                  "num_train_epochs": 2, "optimizer_reset": "epoch", **shared},
        "eval": {**data, "limit": 6, "max_new_tokens": 24, "sampling_preset": "greedy", "seeds": [0]},
    }  # fmt: skip
    folder = root / "recipes" / "chain"
    folder.mkdir(parents=True)
    (folder / "cot.yaml").write_text(yaml.safe_dump(cot))
    (folder / "coconut.yaml").write_text(yaml.safe_dump(coconut))
    return folder / "coconut.yaml"


def _accuracy(model, tokenizer, method: str, thoughts: int | None, questions) -> float:
    """The answer accuracy of `model` on `questions`, evaluated afresh (`thoughts`: a Coconut model's)."""
    if thoughts is not None:
        model.config.num_latent_thoughts = thoughts
    task = get_task("prosqa_style")
    return run_evaluation(task, method, model, tokenizer=tokenizer, dataset=questions, max_new_tokens=24)["accuracy"]


def test_reproduce_trains_cot_then_coconut_from_its_best_checkpoint(tmp_path, monkeypatch):
    recipe_path = _write_chain(tmp_path)
    built_from = []
    from_base = CoconutForCausalLM.from_base.__func__

    def recording_from_base(cls, model_or_id, tokenizer, **kwargs):
        built_from.append({name: tensor.clone() for name, tensor in model_or_id.state_dict().items()})
        return from_base(cls, model_or_id, tokenizer, **kwargs)

    monkeypatch.setattr(CoconutForCausalLM, "from_base", classmethod(recording_from_base))
    out = tmp_path / "run"
    summary = reproduce(ReproduceArguments(recipe=str(recipe_path), output_dir=str(out)))
    assert summary["num_examples"] == 6 and "accuracy" in summary

    questions = get_task("prosqa_style").load("validation", **PROSQA_OPTIONS).select(range(12))
    # CoT (stage 0): every epoch's recorded accuracy is its checkpoint's, and the artifact is the best epoch's.
    cot_dir = out / "init"
    cot = json.loads((cot_dir / "validation.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(cot_dir)
    for epoch in cot["epochs"]:
        checkpoint = AutoModelForCausalLM.from_pretrained(cot_dir / "checkpoints" / f"checkpoint-{epoch['step']}")
        assert _accuracy(checkpoint, tokenizer, "cot", None, questions) == epoch["accuracy"]
    assert cot["kept"]["accuracy"] == max(epoch["accuracy"] for epoch in cot["epochs"])
    assert same_weights(weights(cot_dir), weights(cot_dir / "checkpoints" / f"checkpoint-{cot['kept']['step']}"))
    if cot["kept"] != cot["epochs"][-1]:  # (this seeded run keeps epoch 1 of 3)
        assert not same_weights(
            weights(cot_dir), weights(cot_dir / "checkpoints" / f"checkpoint-{cot['epochs'][-1]['step']}")
        )

    # Coconut starts from that artifact, at stage 1 (1 thought, then 2), and keeps its own best epoch.
    run = json.loads((out / "train" / "run.json").read_text())
    assert run["backbone"] == str(cot_dir) and run["start_stage"] == 1
    assert len(built_from) == 1 and same_weights(built_from[0], weights(cot_dir))
    coconut = json.loads((out / "train" / "validation.json").read_text())
    assert [epoch["num_latent_thoughts"] for epoch in coconut["epochs"]] == [1, 2]
    kept = coconut["kept"]
    artifact = AutoModelForCausalLM.from_pretrained(out / "train")
    assert artifact.config.num_latent_thoughts == 3  # evaluated on test with the last stage's thoughts
    coconut_tokenizer = AutoTokenizer.from_pretrained(out / "train")
    accuracy = _accuracy(artifact, coconut_tokenizer, "coconut", kept["num_latent_thoughts"], questions)
    assert accuracy == kept["accuracy"]

    rerun = reproduce(ReproduceArguments(recipe=str(recipe_path), output_dir=str(out)))  # both stages resume
    assert rerun["accuracy_per_seed"] == summary["accuracy_per_seed"]


def test_the_gsm8k_recipe_starts_from_the_cot_recipe(tmp_path):
    recipe = load_recipe("coconut/gsm8k_aug")  # a shipped recipe, by name
    assert (
        recipe.init.name == "coconut-baselines/cot/gsm8k_aug"
        and recipe.model_name("backbone") == "openai-community/gpt2"
    )
    args = recipe.training_arguments(tmp_path / "train", backbone="openai-community/gpt2")
    assert (args.start_stage, args.num_train_epochs, args.new_token_init) == (1, 22, "<<")
    assert args.select_checkpoint == recipe.init.training_arguments(tmp_path).select_checkpoint == "best_validation"
    assert recipe.eval["max_new_tokens"] == args.max_new_tokens == 64
    text = dry_run(recipe, plan(recipe, tmp_path, None, {"backbone": make_tokenizer("plain")}))
    assert f"starts from: recipe coconut-baselines/cot/gsm8k_aug, trained first into {tmp_path / 'init'}" in text
    assert f"backbone: '{tmp_path / 'init'}'" in text and "start_stage: 1" in text


def test_chained_recipe_errors(tmp_path):
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "cot.yaml").write_text("method: cot\ntask: prosqa\ntrain: {backbone: gpt2}\n")
    bad = folder / "bad.yaml"
    bad.write_text("method: coconut\ntask: prosqa\ninit_from_recipe: cot\ntrain: {backbone: gpt2}\n")
    with pytest.raises(ValueError, match="without backbone"):
        load_recipe(bad)
    bad.write_text("method: coconut\ntask: prosqa\ninit_from_recipe: nope\ntrain: {}\n")
    with pytest.raises(ValueError, match="init_from_recipe 'nope': no recipe at"):
        load_recipe(bad)
