"""CODI: the distillation loss against a literal reference, the stop-gradient, the loss composition on one
teacher-then-student forward against separate forwards, the aligned data, the latent projection (gradients, LoRA,
old Coconut folders, model contract) and training end to end through the CLI with its evaluation. Remote code:
tests/test_use_it_from.py loads a CODI folder without the package."""

import json

import pytest
import torch
from conftest import QUESTIONS
from model_contract import CoconutContract
from transformers import AutoModelForCausalLM, AutoTokenizer

from softcot_hf import CoconutForCausalLM
from softcot_hf.cli import main as cli_main
from softcot_hf.data import get_task
from softcot_hf.modeling.latent_projection import LatentProjection
from softcot_hf.quickstart.settings import shipped_models
from softcot_hf.training.codi_data import CodiExamples, collate_codi
from softcot_hf.training.codi_loss import CodiLossSettings, codi_loss, distillation_loss, token_cross_entropy
from softcot_hf.training.method_arguments import CodiTrainingArguments

BACKBONE = str(shipped_models() / "backbone")  # the quickstart's arithmetic LM (64 wide, 4 layers)
K = 3


def literal_distillation(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> float:
    """The distillation term written out element by element: per layer the mean Smooth-L1 (beta 1) over every
    element, divided by the teacher's sample standard deviation, then the mean over layers."""
    per_layer = []
    for s_layer, t_layer in zip(student, teacher, strict=True):
        s_values, t_values = s_layer.flatten().tolist(), t_layer.flatten().tolist()
        total = 0.0
        for s, t in zip(s_values, t_values, strict=True):
            d = abs(s - t)
            total += 0.5 * d * d if d < 1 else d - 0.5
        mean = sum(t_values) / len(t_values)
        std = (sum((t - mean) ** 2 for t in t_values) / (len(t_values) - 1)) ** 0.5
        per_layer.append(total / len(s_values) / std)
    return sum(per_layer) / len(per_layer)


def test_distillation_loss_matches_the_literal_reference():
    torch.manual_seed(0)
    # Scales where both branches of Smooth-L1 occur (|d| < 1 and >= 1).
    student = [torch.randn(3, 8) * scale for scale in (0.3, 2.0, 5.0)]
    teacher = [torch.randn(3, 8) * scale for scale in (0.5, 1.0, 3.0)]
    assert distillation_loss(student, teacher).item() == pytest.approx(literal_distillation(student, teacher), 1e-6)


def test_no_gradient_reaches_the_teacher_states():
    torch.manual_seed(0)
    student = [torch.randn(2, 4, requires_grad=True) for _ in range(2)]
    teacher = [torch.randn(2, 4, requires_grad=True) for _ in range(2)]
    distillation_loss(student, teacher).backward()
    assert all(t.grad is None for t in teacher)
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in student)


def test_codi_loss_sends_distillation_gradient_to_student_rows_only():
    """On a whole teacher-then-student batch: the distilled states of the teacher rows get no gradient from the
    distillation term, those of the student rows do."""
    torch.manual_seed(0)
    states = [torch.randn(4, 5, 6, requires_grad=True) for _ in range(3)]
    logits, labels = torch.randn(4, 5, 7), torch.randint(0, 7, (4, 5))
    parts = codi_loss(logits, states, labels, torch.tensor([1, 2, 3, 4]), CodiLossSettings())
    grads = torch.autograd.grad(parts["distillation"], states[1:])
    for grad in grads:
        assert grad[:2].abs().sum() == 0 and grad[2:].abs().sum() > 0
    assert grads[0][2, 3].abs().sum() > 0 and grads[0][2, :3].abs().sum() == 0  # only the distilled column


@pytest.fixture(scope="module")
def codi_model():
    tokenizer = AutoTokenizer.from_pretrained(BACKBONE)
    torch.manual_seed(0)
    model = CoconutForCausalLM.from_base(
        AutoModelForCausalLM.from_pretrained(BACKBONE), tokenizer, num_latent_thoughts=K, latent_projection="mlp"
    )
    with torch.no_grad():  # a projection far from its initialisation: the test must see it
        for parameter in model.latent_projection.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
    return model.eval(), tokenizer


def examples(n: int = 3) -> list[dict]:
    return get_task("synthetic_arithmetic").load("train").to_list()[:n]


def test_examples_align_the_token_before_the_answer(codi_model):
    _, tokenizer = codi_model
    encoder = CodiExamples(tokenizer, K)
    for example in examples():
        encoded = encoder.encode(example)
        teacher, student = encoded["teacher_input_ids"], encoded["input_ids"]
        t, s = encoded["teacher_position"], encoded["position"]
        # the same marker token, followed by the same answer tokens to the end
        assert teacher[t] == student[s] and teacher[t + 1 :] == student[s + 1 :]
        assert tokenizer.decode(teacher[t + 1 : -1]).strip() == str(example["answer"])
        assert student[: s - len(encoder.marker) + 1][-K - 2 :] == (
            [encoder.start_id] + [encoder.latent_id] * K + [encoder.end_id]
        )
        assert encoded["labels"][: s - len(encoder.marker) + 1] == [-100] * (s - len(encoder.marker) + 1)
        assert encoded["labels"][s:] == student[s:] and encoded["teacher_labels"][t:] == teacher[t:]
        question = len(tokenizer(example["question"] + "\n", add_special_tokens=False)["input_ids"])
        assert encoded["teacher_labels"] == [-100] * question + teacher[question:]  # steps and answer


def batch_of(tokenizer, rows: list[dict]) -> dict[str, torch.Tensor]:
    encoder = CodiExamples(tokenizer, K)
    return collate_codi([encoder.encode(row) for row in rows], tokenizer.pad_token_id)


def test_one_teacher_then_student_forward_equals_separate_forwards(codi_model):
    """The loss of the joint 2B-row forward against each side run alone (teacher rows through the plain LM, student
    rows one at a time through Coconut's latent passes); float noise only (1e-5)."""
    model, tokenizer = codi_model
    rows = examples(3)
    batch = batch_of(tokenizer, rows)
    settings = CodiLossSettings(distill_weight=0.3, teacher_weight=0.7)
    positions, labels = batch.pop("distill_positions"), batch.pop("labels")
    outputs = model(**batch, output_hidden_states=True)
    parts = codi_loss(outputs.logits, outputs.hidden_states, labels, positions, settings)

    encoder = CodiExamples(tokenizer, K)
    teacher_states, student_states, teacher_ce, student_ce = [], [], [], []
    for row in rows:
        encoded = encoder.encode(row)
        teacher_ids = torch.tensor([encoded["teacher_input_ids"]])
        teacher = model.language_model(input_ids=teacher_ids, output_hidden_states=True)
        teacher_ce.append((token_cross_entropy(teacher.logits, torch.tensor([encoded["teacher_labels"]])), row))
        teacher_states.append([h[0, encoded["teacher_position"]] for h in teacher.hidden_states[1:]])
        student = model(input_ids=torch.tensor([encoded["input_ids"]]), output_hidden_states=True)
        student_ce.append(token_cross_entropy(student.logits, torch.tensor([encoded["labels"]])))
        student_states.append([h[0, encoded["position"]] for h in student.hidden_states[1:]])
    layers = len(teacher_states[0])
    expected_distillation = distillation_loss(
        [torch.stack([s[layer] for s in student_states]) for layer in range(layers)],
        [torch.stack([t[layer] for t in teacher_states]) for layer in range(layers)],
    )
    torch.testing.assert_close(parts["distillation"], expected_distillation, atol=1e-5, rtol=1e-5)
    # Per-row CE means weighted by labelled tokens equal the batch mean over every labelled token.
    half = len(rows)
    counts = (labels[:, 1:] != -100).sum(-1).float()
    expected_teacher = sum(ce * n for (ce, _), n in zip(teacher_ce, counts[:half], strict=True)) / counts[:half].sum()
    expected_student = sum(ce * n for ce, n in zip(student_ce, counts[half:], strict=True)) / counts[half:].sum()
    torch.testing.assert_close(parts["teacher_ce"], expected_teacher, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(parts["student_ce"], expected_student, atol=1e-5, rtol=1e-5)
    total = expected_student + 0.3 * expected_distillation + 0.7 * expected_teacher
    torch.testing.assert_close(parts["loss"], total, atol=1e-5, rtol=1e-5)


def test_gradients_reach_the_projection_through_student_ce_and_distillation(codi_model):
    model, tokenizer = codi_model
    batch = batch_of(tokenizer, examples(2))
    positions, labels = batch.pop("distill_positions"), batch.pop("labels")
    outputs = model(**batch, output_hidden_states=True)
    parts = codi_loss(outputs.logits, outputs.hidden_states, labels, positions, CodiLossSettings())
    projection = list(model.latent_projection.parameters())
    for term in ("student_ce", "distillation"):
        grads = torch.autograd.grad(parts[term], projection, retain_graph=True)
        assert all(grad.abs().sum() > 0 for grad in grads), term
    # The teacher's rows never pass through the projection.
    grads = torch.autograd.grad(parts["teacher_ce"], projection, allow_unused=True)
    assert all(grad is None or grad.abs().sum() == 0 for grad in grads)


def test_latent_passes_return_every_layer_batched_as_one_by_one(codi_model):
    """`output_hidden_states` through the latent passes: right-padded rows with their latents at different columns
    give each row's states as a forward of that row alone (1e-5), and the last entry is what the LM head reads."""
    model, tokenizer = codi_model
    encoder = CodiExamples(tokenizer, K)
    encoded = [encoder.encode(row) for row in examples(3)]
    batch = collate_codi(encoded, tokenizer.pad_token_id)
    half = len(encoded)
    ids, mask = batch["input_ids"][half:], batch["attention_mask"][half:]
    together = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    torch.testing.assert_close(
        model.get_output_embeddings()(together.hidden_states[-1]), together.logits, atol=1e-5, rtol=1e-5
    )
    for row, features in enumerate(encoded):
        alone = model(input_ids=torch.tensor([features["input_ids"]]), output_hidden_states=True)
        length = len(features["input_ids"])
        for batched_layer, single_layer in zip(together.hidden_states, alone.hidden_states, strict=True):
            torch.testing.assert_close(batched_layer[row, :length], single_layer[0], atol=1e-5, rtol=1e-5)


def test_the_projection_changes_the_thoughts_and_old_coconut_folders_load_without_it(codi_model, tmp_path):
    model, tokenizer = codi_model
    inputs = tokenizer(QUESTIONS[:2], return_tensors="pt", padding=True)
    plain = CoconutForCausalLM.from_base(
        AutoModelForCausalLM.from_pretrained(BACKBONE), AutoTokenizer.from_pretrained(BACKBONE), num_latent_thoughts=K
    )
    assert plain.latent_projection is None and plain.config.latent_projection is None
    plain.save_pretrained(tmp_path / "coconut")
    config_file = tmp_path / "coconut" / "config.json"
    config = json.loads(config_file.read_text())
    del config["latent_projection"]  # a folder saved before the field existed
    config_file.write_text(json.dumps(config))
    reloaded = CoconutForCausalLM.from_pretrained(tmp_path / "coconut").eval()
    assert reloaded.latent_projection is None
    assert not any("latent_projection" in name for name in reloaded.state_dict())
    thoughts = plain._append_thought_tokens(inputs["input_ids"], inputs["attention_mask"], K)
    with torch.no_grad():
        expected = plain.eval()(input_ids=thoughts[0], attention_mask=thoughts[1]).logits
        torch.testing.assert_close(reloaded(input_ids=thoughts[0], attention_mask=thoughts[1]).logits, expected)
        # The same LM weights with the projection: other thoughts, other logits after them.
        projected = model(input_ids=thoughts[0], attention_mask=thoughts[1]).logits
    assert not torch.allclose(projected[:, -1], expected[:, -1], atol=1e-3)
    with pytest.raises(ValueError, match="latent_projection='linear'"):
        type(plain.config)(latent_projection="linear")


def test_lora_adapts_the_lm_and_trains_the_projection_whole(codi_model):
    _, tokenizer = codi_model
    torch.manual_seed(0)
    model = CoconutForCausalLM.from_base(
        AutoModelForCausalLM.from_pretrained(BACKBONE), tokenizer, num_latent_thoughts=K, latent_projection="mlp"
    )
    args = CodiTrainingArguments(backbone=BACKBONE, task="synthetic_arithmetic", output_dir="unused", lora_r=4)
    wrapped = args.wrap_in_lora(model)
    trainable = [name for name, parameter in wrapped.named_parameters() if parameter.requires_grad]
    assert any("lora_A" in name and "language_model" in name for name in trainable)
    assert not any("lora" in name and "latent_projection" in name for name in trainable)
    assert {name.split("default.")[-1] for name in trainable if "latent_projection" in name} == {
        f"{layer}.{kind}" for layer in ("up", "down", "norm") for kind in ("weight", "bias")
    }
    batch = batch_of(tokenizer, examples(2))
    positions, labels = batch.pop("distill_positions"), batch.pop("labels")
    optimizer = torch.optim.SGD([p for p in wrapped.parameters() if p.requires_grad], lr=0.5)
    for _ in range(2):  # LoRA's B starts at zero: the second step moves the LM
        outputs = wrapped(**batch, output_hidden_states=True)
        codi_loss(outputs.logits, outputs.hidden_states, labels, positions, CodiLossSettings())["loss"].backward()
        optimizer.step()
        optimizer.zero_grad()
    wrapped.eval()
    with torch.no_grad():
        expected = wrapped(**batch).logits
        merged = wrapped.merge_and_unload()
        assert isinstance(merged.latent_projection, LatentProjection)
        torch.testing.assert_close(merged(**batch).logits, expected, atol=1e-4, rtol=1e-4)


def test_train_and_evaluate_codi_through_the_cli(tmp_path, capsys):
    output_dir = tmp_path / "codi"
    argv = [
        "train", "codi", "--backbone", BACKBONE, "--task", "synthetic_arithmetic", "--output-dir", str(output_dir),
        "--limit", "8", "--epochs", "1", "--batch-size", "4", "--gradient-accumulation-steps", "1",
        "--num-latent-thoughts", "2", "--lora-r", "4", "--lr", "1e-3", "--save-steps", "1000", "--eval-limit", "2",
        "--max-new-tokens", "8", "--eval-batch-size", "2", "--logging-steps", "1",
    ]  # fmt: skip
    cli_main(argv)
    out = capsys.readouterr().out
    assert "'student_ce'" in out and "'teacher_ce'" in out and "'distillation'" in out  # the logged terms
    assert "accuracy" in out and (output_dir / "eval").is_dir()
    config = json.loads((output_dir / "config.json").read_text())
    assert config["latent_projection"] == "mlp" and config["num_latent_thoughts"] == 2
    assert (output_dir / "adapter" / "adapter_config.json").is_file()


class TestCodiContract(CoconutContract):
    def build(self, pair_dirs):
        tokenizer = AutoTokenizer.from_pretrained(pair_dirs["llama_backbone"], padding_side="left")
        torch.manual_seed(0)
        model = CoconutForCausalLM.from_base(
            pair_dirs["llama_backbone"], tokenizer, num_latent_thoughts=2, latent_projection="mlp"
        )
        return model, tokenizer


def test_bad_codi_settings_are_refused_with_the_fix():
    common = dict(backbone=BACKBONE, task="synthetic_arithmetic", output_dir="unused")
    for bad, match in (
        ({"distill_weight": -1.0}, "distill.weight"),
        ({"num_latent_thoughts": 0}, "num.latent.thoughts"),
        ({"distill_layers": [-1]}, "distill.layers"),
    ):
        with pytest.raises(ValueError, match=match):
            CodiTrainingArguments(**common, **bad)
    with pytest.raises(ValueError, match="distill_layers \\[9\\] out of range: the model has hidden states 0"):
        codi_loss(torch.zeros(2, 3, 4), [torch.zeros(2, 3, 5)] * 3, torch.zeros(2, 3).long(), torch.zeros(2).long(),
                  CodiLossSettings(distill_layers=(9,)))  # fmt: skip
