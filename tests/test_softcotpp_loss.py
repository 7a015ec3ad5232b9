"""SoftCoT++ loss (softcot_hf/training/thought_set_loss.py) against slow float64 references that run each question
alone, unpadded, set by set: one for every combination of the options, one written from the official code's
structure; gradients reach exactly the projection (and the set vectors only when they train).

The batched loss runs in fp32 with left padding; the references in float64 on a copy of the model. Equal means
within 1e-5 absolute (fp32 rounding over a few hundred terms). Dropout masks come from the global RNG: each test
seeds it, and the reference draws the same mask of the same shape after the same seed.
"""

import copy
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from conftest import QUESTIONS, build
from test_softcotpp_model import M, with_sets

from softcot_hf.training.thought_set_loss import ThoughtSetLossSettings, thought_set_losses

ATOL = 1e-5
QUESTIONS_4 = [*QUESTIONS, "what is 1 plus 1 plus 1 plus 1 plus 1 plus 1 ?"]  # unequal lengths: unequal padding
ANSWERS_4 = ["5", "3 apples", "1", "6 . so 6"]  # unequal lengths: the reductions differ
OURS = ThoughtSetLossSettings(
    contrastive_temperature=1.0, contrastive_dropout=0.2, contrastive_weight=0.5
)  # far from 0
OPTION_COMBINATIONS = {
    "ours": OURS,
    "sum_over_sets": replace(OURS, reduction="sum_over_sets"),
    "flatten": replace(OURS, contrastive_pooling="flatten"),
    "dropout_on_thoughts": replace(OURS, contrastive_dropout_on="projected_thoughts"),
    "official": replace(ThoughtSetLossSettings.official(M), contrastive_temperature=1.0),
}


@pytest.fixture(scope="module")
def sets_pair(pair_dirs):
    model, processor = build(pair_dirs, num_thought_tokens=3, seed=4)
    return with_sets(model, seed=1), processor


@pytest.fixture(scope="module")
def close_sets_pair(pair_dirs):
    """Set vectors 1 % apart: at the official similarity scale (x 20) far-apart sets make the contrastive term ~0."""
    model, processor = build(pair_dirs, num_thought_tokens=3, seed=4)
    with_sets(model, seed=1)
    with torch.no_grad():
        vectors = model.projection.thought_sets.embeddings
        vectors.copy_(
            vectors[0]
            + 0.01
            * vectors.norm(dim=1).mean()
            * torch.randn(vectors.shape, generator=torch.Generator().manual_seed(0))
            / vectors.shape[1] ** 0.5
        )
    return model, processor


def one_question_one_set(model, single, m):
    """float64 (assistant states (N, d_a), projected thoughts (N, D), backbone input embeddings (1, length, D)) of one
    unpadded question read with set m."""
    config = model.config
    ids, slot_ids = single["assistant_input_ids"][0], single["input_ids"][0]
    placeholders = ids == config.assistant_placeholder_token_id
    embeds = model.assistant.get_input_embeddings()(ids).clone()
    embeds[placeholders] = model.projection.thought_sets.embeddings[m]
    states = model.assistant.base_model(inputs_embeds=embeds[None]).last_hidden_state[0, placeholders]
    thoughts = model.projection(states)
    slots = slot_ids == config.thought_token_id
    backbone_embeds = model.backbone.get_input_embeddings()(slot_ids.masked_fill(slots, 0)).clone()
    backbone_embeds[slots] = thoughts
    return states, thoughts, backbone_embeds[None]


def reference_losses(model, processor, questions, answers, keep, settings):
    """float64, one question and one set at a time, any settings; `keep` (B x M, N, d) is the dropout mask the batched
    loss drew (d: the assistant's or the backbone's width, by `contrastive_dropout_on`)."""
    model = copy.deepcopy(model).double()
    p = settings.contrastive_dropout
    pool = (lambda t: t.mean(0)) if settings.contrastive_pooling == "mean" else (lambda t: t.flatten())
    row_losses, anchors, positives = [], [], []
    for q, (question, answer) in enumerate(zip(questions, answers, strict=True)):
        single = processor(question, answers=answer)
        for m in range(M):
            states, thoughts, embeds = one_question_one_set(model, single, m)
            mask = keep[q * M + m].double() / (1 - p)
            if settings.contrastive_dropout_on == "assistant_states":
                positive = model.projection(states * mask)
            else:
                positive = thoughts * mask
            anchors.append(pool(thoughts))
            positives.append(pool(positive))
            logits, labels = model.backbone(inputs_embeds=embeds).logits[0], single["labels"][0]
            row_losses.append(
                torch.stack(
                    [
                        F.cross_entropy(logits[position], labels[position + 1])
                        for position in range(len(labels) - 1)
                        if labels[position + 1] != -100
                    ]
                )
            )
    if settings.reduction == "mean":
        cross_entropy = torch.cat(row_losses).mean()
    else:
        cross_entropy = sum(losses.mean() for losses in row_losses) / len(questions)
    contrastive = []
    for q in range(len(questions)):
        for m in range(M):
            similarities = torch.stack(
                [F.cosine_similarity(anchors[q * M + m], positives[q * M + j], dim=0) for j in range(M)]
            )
            contrastive.append(-torch.log_softmax(similarities / settings.contrastive_temperature, 0)[m])
    contrastive = torch.stack(contrastive).mean()
    return cross_entropy + settings.contrastive_weight * contrastive, cross_entropy, contrastive


def official_reference_loss(model, processor, questions, answers, keep):
    """
    The official `scaling-nce` training loss, written from reading xuyige/SoftCoT@fa7f537 llm_model.py
    (`ScalingEfficientSoftCoTFromSmallModel.forward` and `get_inputs_embeds_for_base_model`), float64, for one
    question at a time as its loop intends (its own loop is right at batch size 1 only). For question b of B: for each
    set, the backbone's input embeddings with that set's projected thoughts in the slots, and the backbone's own
    labelled loss (a token mean), divided by B and added up over sets and questions. The contrastive term: the M sets'
    slot embeddings (M, N, D), a copy through dropout p = 0.5 (`keep`), both flattened to (M, N x D) and normalised,
    similarities x 20, cross-entropy against the diagonal (a mean over the M rows), divided by M x B.
    """
    model = copy.deepcopy(model).double()
    loss = torch.zeros((), dtype=torch.float64)
    batch_size = len(questions)
    for b, (question, answer) in enumerate(zip(questions, answers, strict=True)):
        single = processor(question, answers=answer)
        sets = [one_question_one_set(model, single, m) for m in range(M)]
        student = torch.stack([thoughts for _, thoughts, _ in sets])
        teacher = student * keep[b * M : (b + 1) * M].double() / 0.5
        similarity = F.normalize(student.view(M, -1), dim=1) @ F.normalize(teacher.view(M, -1), dim=1).T
        loss = loss + F.cross_entropy(similarity * 20, torch.arange(M)) / (M * batch_size)
        for _, _, embeds in sets:
            loss = loss + model.backbone(inputs_embeds=embeds, labels=single["labels"]).loss / batch_size
    return loss


def batched_and_mask(model, processor, questions, answers, settings, seed=7):
    """The batched losses and the dropout mask they drew (the same shape drawn after the same seed)."""
    batch = processor(questions, answers=answers)
    if len(questions) > 1:
        assert (batch["attention_mask"] == 0).any() and (batch["assistant_attention_mask"] == 0).any()
    torch.manual_seed(seed)
    losses = thought_set_losses(model, batch, settings)
    on_states = settings.contrastive_dropout_on == "assistant_states"
    width = (model.config.assistant_config if on_states else model.config.text_config).hidden_size
    torch.manual_seed(seed)
    keep = torch.rand((len(questions) * M, model.config.num_thought_tokens, width)) >= settings.contrastive_dropout
    return losses, keep


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("options", list(OPTION_COMBINATIONS))
def test_batched_loss_equals_float64_reference_one_question_and_set_at_a_time(sets_pair, batch_size, options):
    model, processor = sets_pair
    settings = OPTION_COMBINATIONS[options]
    questions, answers = QUESTIONS_4[:batch_size], ANSWERS_4[:batch_size]
    with torch.no_grad():
        losses, keep = batched_and_mask(model, processor, questions, answers, settings)
        expected = reference_losses(model, processor, questions, answers, keep, settings)
    assert losses.contrastive > 0.01  # the term is really there
    for got, want in zip((losses.loss, losses.cross_entropy, losses.contrastive), expected, strict=True):
        torch.testing.assert_close(got.double(), want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_official_settings_give_the_official_loss(close_sets_pair, batch_size):
    model, processor = close_sets_pair
    questions, answers = QUESTIONS_4[:batch_size], ANSWERS_4[:batch_size]
    with torch.no_grad():
        losses, keep = batched_and_mask(model, processor, questions, answers, ThoughtSetLossSettings.official(M))
        expected = official_reference_loss(model, processor, questions, answers, keep)
    assert losses.contrastive > 0.01
    torch.testing.assert_close(losses.loss.double(), expected, atol=ATOL, rtol=0)


def test_the_reductions_and_poolings_really_differ(sets_pair):
    """Otherwise the tests above could not tell them apart."""
    model, processor = sets_pair
    with torch.no_grad():
        results = {
            name: batched_and_mask(model, processor, QUESTIONS_4, ANSWERS_4, settings)[0]
            for name, settings in OPTION_COMBINATIONS.items()
        }
    assert abs(results["ours"].cross_entropy * M - results["sum_over_sets"].cross_entropy) > 1e-3
    assert abs(results["ours"].contrastive - results["flatten"].contrastive) > 1e-3


def test_unknown_settings_are_refused():
    with pytest.raises(ValueError, match="contrastive_pooling 'max'"):
        ThoughtSetLossSettings(contrastive_pooling="max")


def trainable_names(model) -> set[str]:
    return {name for name, parameter in model.named_parameters() if parameter.grad is not None}


@pytest.mark.parametrize("train_sets", [False, True])
@pytest.mark.parametrize("options", ["ours", "official"])
def test_gradients_reach_exactly_the_projection_and_trainable_set_vectors(pair_dirs, train_sets, options):
    model, processor = build(pair_dirs, num_thought_tokens=3, seed=4)
    with_sets(model, seed=1, trainable=train_sets)
    model.train()
    losses = thought_set_losses(model, processor(QUESTIONS_4, answers=ANSWERS_4), OPTION_COMBINATIONS[options])
    losses.loss.backward()
    expected = {"projection.linear_1.weight", "projection.linear_1.bias"}
    if train_sets:
        expected.add("projection.thought_sets.embeddings")
    assert trainable_names(model) == expected
    assert all(model.get_parameter(name).grad.abs().sum() > 0 for name in expected)


def test_cached_states_give_the_same_loss(sets_pair):
    """Training feeds each example's per-set states (B, M, N, d) cached once, instead of assistant tokens."""
    model, processor = sets_pair
    batch = processor(QUESTIONS_4, answers=ANSWERS_4)
    with torch.no_grad():
        torch.manual_seed(2)
        direct = thought_set_losses(model, batch, OURS)
        states = torch.stack(
            [
                model.get_assistant_states(
                    batch["assistant_input_ids"], batch["assistant_attention_mask"], torch.full((4,), m)
                )
                for m in range(M)
            ],
            dim=1,
        )
        cached = {key: value for key, value in batch.items() if not key.startswith("assistant_")}
        cached["assistant_hidden_states"] = states
        torch.manual_seed(2)
        from_cache = thought_set_losses(model, cached, OURS)
    torch.testing.assert_close(from_cache.loss, direct.loss, atol=ATOL, rtol=0)


def test_one_set_loss_is_the_softcot_loss(pair_dirs):
    model, processor = build(pair_dirs, num_thought_tokens=3, seed=4)
    batch = processor(QUESTIONS_4, answers=ANSWERS_4)
    with torch.no_grad():
        losses = thought_set_losses(model, batch, OURS)
        softcot = model(**batch).loss
    assert losses.contrastive == 0
    torch.testing.assert_close(losses.loss, softcot, atol=1e-6, rtol=0)
