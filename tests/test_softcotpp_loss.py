"""SoftCoT++ loss (softcot_hf/training/thought_set_loss.py) against a slow float64 reference that runs each question
alone, unpadded, set by set; gradients reach exactly the projection (and the set vectors only when they train).

The batched loss runs in fp32 with left padding; the reference in float64 on a copy of the model. Equal means within
1e-5 absolute (fp32 rounding over a few hundred terms).
"""

import copy

import pytest
import torch
import torch.nn.functional as F
from conftest import QUESTIONS, build
from test_softcotpp_model import M, with_sets

from softcot_hf.training.thought_set_loss import thought_set_losses

ATOL = 1e-5
QUESTIONS_4 = [*QUESTIONS, "what is 1 plus 1 plus 1 plus 1 plus 1 plus 1 ?"]  # unequal lengths: unequal padding
ANSWERS_4 = ["5", "3 apples", "1", "6"]
SETTINGS = dict(temperature=1.0, dropout=0.2, contrastive_weight=0.5)  # a term far from 0


@pytest.fixture(scope="module")
def sets_pair(pair_dirs):
    model, processor = build(pair_dirs, num_thought_tokens=3, seed=4)
    return with_sets(model, seed=1), processor


def reference_losses(model, processor, questions, answers, keep, settings, reduction):
    """float64, one question and one set at a time; `keep` (B x M, N, d_assistant) is the dropout mask the batched
    loss drew."""
    model = copy.deepcopy(model).double()
    config = model.config
    token_losses, anchors, positives = [[] for _ in range(M)], [], []
    for q, (question, answer) in enumerate(zip(questions, answers, strict=True)):
        single = processor(question, answers=answer)
        ids, slot_ids = single["assistant_input_ids"][0], single["input_ids"][0]
        placeholders = ids == config.assistant_placeholder_token_id
        for m in range(M):
            embeds = model.assistant.get_input_embeddings()(ids).clone()
            embeds[placeholders] = model.projection.thought_sets.embeddings[m]
            states = model.assistant.base_model(inputs_embeds=embeds[None]).last_hidden_state[0, placeholders]
            thoughts = model.projection(states)
            anchors.append(thoughts.mean(0))
            dropped = states * keep[q * M + m].double() / (1 - settings["dropout"])
            positives.append(model.projection(dropped).mean(0))
            slots = slot_ids == config.thought_token_id
            backbone_embeds = model.backbone.get_input_embeddings()(slot_ids.masked_fill(slots, 0)).clone()
            backbone_embeds[slots] = thoughts
            logits = model.backbone(inputs_embeds=backbone_embeds[None]).logits[0]
            labels = single["labels"][0]
            for position in range(len(labels) - 1):
                if labels[position + 1] != -100:
                    token_losses[m].append(F.cross_entropy(logits[position], labels[position + 1]))
    if reduction == "mean":
        cross_entropy = torch.stack([loss for losses in token_losses for loss in losses]).mean()
    else:
        cross_entropy = sum(torch.stack(losses).mean() for losses in token_losses)
    contrastive = []
    for q in range(len(questions)):
        for m in range(M):
            similarities = torch.stack(
                [F.cosine_similarity(anchors[q * M + m], positives[q * M + j], dim=0) for j in range(M)]
            )
            contrastive.append(-torch.log_softmax(similarities / settings["temperature"], 0)[m])
    contrastive = torch.stack(contrastive).mean()
    return cross_entropy + settings["contrastive_weight"] * contrastive, cross_entropy, contrastive


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("reduction", ["mean", "sum_over_sets"])
def test_batched_loss_equals_float64_reference_one_question_and_set_at_a_time(sets_pair, batch_size, reduction):
    model, processor = sets_pair
    questions, answers = QUESTIONS_4[:batch_size], ANSWERS_4[:batch_size]
    batch = processor(questions, answers=answers)
    if batch_size > 1:
        assert (batch["attention_mask"] == 0).any() and (batch["assistant_attention_mask"] == 0).any()
    with torch.no_grad():
        losses = thought_set_losses(
            model, batch, reduction=reduction, generator=torch.Generator().manual_seed(7), **SETTINGS
        )
        n, d = model.config.num_thought_tokens, model.config.assistant_config.hidden_size
        keep = torch.rand((batch_size * M, n, d), generator=torch.Generator().manual_seed(7)) >= SETTINGS["dropout"]
        expected = reference_losses(model, processor, questions, answers, keep, SETTINGS, reduction)
    assert losses.contrastive > 0.01  # the term is really there
    for got, want in zip((losses.loss, losses.cross_entropy, losses.contrastive), expected, strict=True):
        torch.testing.assert_close(got.double(), want, atol=ATOL, rtol=0)


def trainable_names(model) -> set[str]:
    return {name for name, parameter in model.named_parameters() if parameter.grad is not None}


@pytest.mark.parametrize("train_sets", [False, True])
def test_gradients_reach_exactly_the_projection_and_trainable_set_vectors(pair_dirs, train_sets):
    model, processor = build(pair_dirs, num_thought_tokens=3, seed=4)
    with_sets(model, seed=1, trainable=train_sets)
    model.train()
    losses = thought_set_losses(model, processor(QUESTIONS_4, answers=ANSWERS_4), **SETTINGS)
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
        direct = thought_set_losses(model, batch, generator=torch.Generator().manual_seed(2), **SETTINGS)
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
        from_cache = thought_set_losses(model, cached, generator=torch.Generator().manual_seed(2), **SETTINGS)
    torch.testing.assert_close(from_cache.loss, direct.loss, atol=ATOL, rtol=0)


def test_one_set_loss_is_the_softcot_loss(pair_dirs):
    model, processor = build(pair_dirs, num_thought_tokens=3, seed=4)
    batch = processor(QUESTIONS_4, answers=ANSWERS_4)
    with torch.no_grad():
        losses = thought_set_losses(model, batch, **SETTINGS)
        softcot = model(**batch).loss
    assert losses.contrastive == 0
    torch.testing.assert_close(losses.loss, softcot, atol=1e-6, rtol=0)
