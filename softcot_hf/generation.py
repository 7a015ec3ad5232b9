"""Prompt encoding and batched generation shared by every evaluated method."""

from collections.abc import Mapping

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .processing_softcot import left_pad, render_prompt_ids


def prompt_ids(tokenizer: PreTrainedTokenizerBase, text: str, chat: bool) -> list[int]:
    """
    Token ids of one prompt. `chat=True` (instruction-tuned backbones): the tokenizer's chat template as a user turn
    followed by the generation prompt, or the plain text with the tokenizer's special tokens when it has no template
    (as `SoftCoTProcessor` renders prompts). `chat=False` (models fine-tuned on raw text: cot, no_cot, coconut): the
    text alone, without special tokens, exactly as the Coconut curriculum tokenizes questions for training.
    """
    if not chat:
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    return render_prompt_ids(tokenizer, text)


def pad_token_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The id to pad with: the tokenizer's pad token, else its EOS (LLaMA-3 and GPT-2 have no pad token)."""
    if tokenizer.pad_token_id is not None:
        return tokenizer.pad_token_id
    if tokenizer.eos_token_id is None:
        raise ValueError(
            "The tokenizer has neither a pad nor an EOS token; set tokenizer.pad_token before evaluating."
        )
    return tokenizer.eos_token_id


def encode_prompts(tokenizer: PreTrainedTokenizerBase, prompts: list[str], chat: bool) -> dict[str, torch.Tensor]:
    """Left-padded `input_ids` and `attention_mask`, both (batch, max_prompt_len), of `prompts` (see `prompt_ids`)."""
    rows = [prompt_ids(tokenizer, prompt, chat) for prompt in prompts]
    return {
        "input_ids": left_pad(rows, pad_token_id(tokenizer)),
        "attention_mask": left_pad([[1] * len(row) for row in rows], 0),
    }


def stop_token_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """The ids that end an answer: the model's generation config EOS ids and the tokenizer's EOS."""
    configured = model.generation_config.eos_token_id
    ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return sorted(ids)


def sampling_settings(
    num_samples: int, do_sample: bool | None, temperature: float, top_p: float, top_k: int = 0
) -> dict:
    """
    `generate` arguments for `num_samples` paths per question: greedy search for one path unless `do_sample`,
    sampling at `temperature`/`top_p`/`top_k` (0: no limit) otherwise (self-consistency needs different paths, so
    it always samples).
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}.")
    do_sample = num_samples > 1 if do_sample is None else do_sample
    if num_samples > 1 and not do_sample:
        raise ValueError("Self-consistency (num_samples > 1) needs sampled paths: leave do_sample unset or True.")
    settings = {"do_sample": do_sample, "num_return_sequences": num_samples}
    if do_sample:
        settings.update(temperature=temperature, top_p=top_p, top_k=top_k)
    return settings


@torch.no_grad()
def generate_texts(
    model: PreTrainedModel,
    inputs: Mapping[str, torch.Tensor],
    tokenizer: PreTrainedTokenizerBase,
    **generate_kwargs,
) -> tuple[list[str], list[int]]:
    """
    Runs `model.generate(**inputs)` on a left-padded batch and returns, for each returned sequence (batch *
    num_return_sequences, grouped by question), its decoded new text and its number of generated tokens: the tokens
    after the prompt up to, not including, the first stop token (`stop_token_ids`). For Coconut the count includes
    the `<|start-latent|>`, latent and `<|end-latent|>` positions that `generate` appends, as the Coconut paper counts.
    """
    device = model.device
    inputs = {key: value.to(device) for key, value in inputs.items()}
    stop_ids = stop_token_ids(model, tokenizer)
    output = model.generate(**inputs, eos_token_id=stop_ids, pad_token_id=pad_token_id(tokenizer), **generate_kwargs)
    new_tokens = output[:, inputs["input_ids"].shape[1] :].cpu()
    is_stop = torch.isin(new_tokens, torch.tensor(stop_ids))
    lengths = torch.where(is_stop.any(1), is_stop.int().argmax(1), new_tokens.shape[1]).tolist()
    rows = zip(new_tokens, lengths, strict=True)
    texts = [tokenizer.decode(row[:length], skip_special_tokens=True).strip() for row, length in rows]
    return texts, lengths
