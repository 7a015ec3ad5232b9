"""Thought inspection: the vocabulary tokens nearest to each latent thought, by logit lens and by embedding cosine."""

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import ModelOutput

FINAL_NORM_NAMES = ("norm", "ln_f", "final_layernorm", "final_layer_norm")


@dataclass
class ThoughtInspectionOutput(ModelOutput):
    r"""
    The top-k vocabulary tokens nearest to each latent thought, returned by `model.inspect_thoughts(...)`.

    thoughts (`torch.FloatTensor` of shape `(batch_size, num_thoughts, hidden_size)`):
        The thought vectors inspected, exactly as the language model receives them as input embeddings.
    logit_lens_ids (`torch.LongTensor` of shape `(batch_size, num_thoughts, k)`):
        Token ids of the k highest logit-lens probabilities, best first.
    logit_lens_scores (`torch.FloatTensor` of shape `(batch_size, num_thoughts, k)`):
        Their probabilities: softmax over the vocabulary of the LM head's logits for the thought (see each model's
        `inspect_thoughts` for whether the final norm comes first).
    embedding_ids (`torch.LongTensor` of shape `(batch_size, num_thoughts, k)`):
        Token ids of the k rows of the input embedding table most cosine-similar to the thought, best first.
    embedding_scores (`torch.FloatTensor` of shape `(batch_size, num_thoughts, k)`):
        Their cosine similarities, in [-1, 1].
    logit_lens_tokens (`list[list[list[str]]]`, *optional*):
        `logit_lens_ids` decoded one token at a time, when a tokenizer was passed.
    embedding_tokens (`list[list[list[str]]]`, *optional*):
        `embedding_ids` decoded one token at a time, when a tokenizer was passed.
    step_ids (`list[list[list[int]]]`, *optional*):
        With a SIM-CoT step decoder: per question, per group of `c_thought` thoughts (one reasoning step), the token
        ids the decoder writes from that group (greedy, up to its EOS).
    step_texts (`list[list[str]]`, *optional*):
        `step_ids` decoded, when a tokenizer was passed.
    """

    thoughts: torch.FloatTensor | None = None
    logit_lens_ids: torch.LongTensor | None = None
    logit_lens_scores: torch.FloatTensor | None = None
    embedding_ids: torch.LongTensor | None = None
    embedding_scores: torch.FloatTensor | None = None
    logit_lens_tokens: list[list[list[str]]] | None = None
    embedding_tokens: list[list[list[str]]] | None = None
    step_ids: list[list[list[int]]] | None = None
    step_texts: list[list[str]] | None = None


# What SIM-CoT training writes beside a saved step decoder when its width differs from the thoughts'.
STEP_PROJECTION_FILE = "step_projection.safetensors"


def load_step_decoder(path: str | Path) -> tuple[PreTrainedModel, torch.nn.Linear | None]:
    """A saved SIM-CoT step decoder (`OUTPUT_DIR/step_decoder` of a run with `save_step_decoder`): the causal LM and
    the linear projection of the thoughts into its width (None when the widths match)."""
    from safetensors.torch import load_file

    decoder = AutoModelForCausalLM.from_pretrained(str(path)).eval()
    projection = None
    if (Path(path) / STEP_PROJECTION_FILE).is_file():
        weights = load_file(str(Path(path) / STEP_PROJECTION_FILE))
        projection = torch.nn.Linear(weights["weight"].shape[1], weights["weight"].shape[0])
        projection.load_state_dict(weights)
    return decoder, projection


@torch.no_grad()
def decode_thought_steps(
    thoughts: torch.Tensor,
    c_thought: int,
    decoder: PreTrainedModel,
    projection: torch.nn.Module | None = None,
    max_new_tokens: int = 32,
) -> list[list[list[int]]]:
    """Greedy text of a step decoder from each group of `c_thought` thoughts of `thoughts` (batch, num_thoughts,
    hidden_size) (the last group may be shorter): per question, per group, the token ids before the decoder's EOS."""
    batch, num_thoughts, _ = thoughts.shape
    groups = [(start, min(start + c_thought, num_thoughts)) for start in range(0, num_thoughts, c_thought)]
    eos = decoder.generation_config.eos_token_id
    eos = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    embed = decoder.get_input_embeddings()
    texts = []
    for start, end in groups:
        prefix = thoughts[:, start:end].to(embed.weight.device)
        inputs = (prefix if projection is None else projection.to(prefix.device)(prefix)).to(embed.weight.dtype)
        written = torch.empty(batch, 0, dtype=torch.long, device=inputs.device)
        for _ in range(max_new_tokens):
            next_ids = decoder(inputs_embeds=inputs).logits[:, -1].argmax(-1)
            written = torch.cat([written, next_ids[:, None]], dim=1)
            if all(any(token in eos for token in row) for row in written.tolist()):
                break
            inputs = torch.cat([inputs, embed(next_ids)[:, None]], dim=1)
        texts.append([_before_eos(row, eos) for row in written.tolist()])
    return [[texts[group][question] for group in range(len(groups))] for question in range(batch)]


def _before_eos(ids: list[int], eos: set[int]) -> list[int]:
    for position, token in enumerate(ids):
        if token in eos:
            return ids[:position]
    return ids


def final_norm(language_model: PreTrainedModel) -> torch.nn.Module:
    """The norm a causal LM applies to its last layer's output before the LM head (Llama `norm`, GPT-2 `ln_f`)."""
    decoder = language_model.get_decoder()
    for name in FINAL_NORM_NAMES:
        if isinstance(getattr(decoder, name, None), torch.nn.Module):
            return getattr(decoder, name)
    raise ValueError(
        f"{type(language_model).__name__}'s decoder ({type(decoder).__name__}) has no final norm under any of the "
        f"names {FINAL_NORM_NAMES}, so the logit lens cannot be applied. Inspect with apply_final_norm=False if its "
        "LM head reads the last layer's output directly."
    )


def _decode_each(tokenizer: PreTrainedTokenizerBase, ids: torch.LongTensor) -> list[list[list[str]]]:
    """(batch, positions, k) ids -> nested lists of the same shape holding each id decoded on its own."""
    return [[[tokenizer.decode([token_id]) for token_id in row] for row in question] for question in ids.tolist()]


@torch.no_grad()
def inspect_thought_vectors(
    thoughts: torch.Tensor,
    language_model: PreTrainedModel,
    top_k: int = 5,
    tokenizer: PreTrainedTokenizerBase | None = None,
    apply_final_norm: bool = True,
) -> ThoughtInspectionOutput:
    """
    Nearest vocabulary tokens of `thoughts` (batch, num_thoughts, hidden_size) for `language_model`: (a) the logit
    lens, `softmax(lm_head(final_norm(thought)))` (the norm skipped with `apply_final_norm=False`, for thoughts that
    are already the norm's output), and (b) cosine similarity to each row of the input embedding table.
    """
    if thoughts.dim() != 3:
        raise ValueError(f"thoughts must have shape (batch, num_thoughts, hidden_size), got {tuple(thoughts.shape)}.")
    embeddings = language_model.get_input_embeddings().weight
    if top_k < 1 or top_k > embeddings.shape[0]:
        raise ValueError(f"top_k must be between 1 and the vocabulary size {embeddings.shape[0]}, got {top_k}.")
    lm_head = language_model.get_output_embeddings()
    head_input = thoughts.to(lm_head.weight.device, lm_head.weight.dtype)
    if apply_final_norm:
        head_input = final_norm(language_model)(head_input)
    probabilities = lm_head(head_input).float().softmax(-1)
    logit_lens_scores, logit_lens_ids = probabilities.topk(top_k, dim=-1)
    cosine = F.normalize(thoughts.to(embeddings.device).float(), dim=-1) @ F.normalize(embeddings.float(), dim=-1).T
    embedding_scores, embedding_ids = cosine.topk(top_k, dim=-1)
    return ThoughtInspectionOutput(
        thoughts=thoughts,
        logit_lens_ids=logit_lens_ids,
        logit_lens_scores=logit_lens_scores,
        embedding_ids=embedding_ids,
        embedding_scores=embedding_scores,
        logit_lens_tokens=None if tokenizer is None else _decode_each(tokenizer, logit_lens_ids),
        embedding_tokens=None if tokenizer is None else _decode_each(tokenizer, embedding_ids),
    )


__all__ = [
    "STEP_PROJECTION_FILE",
    "ThoughtInspectionOutput",
    "decode_thought_steps",
    "final_norm",
    "inspect_thought_vectors",
    "load_step_decoder",
]
