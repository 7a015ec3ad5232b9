"""Assistant-state cache: the frozen assistant's states at the N placeholders, computed once per training example.

The assistant is frozen and deterministic, so `model.get_assistant_states(...)` depends only on the example: the
pipeline computes it once and feeds it back every epoch as `assistant_hidden_states` (the model then skips the
assistant). On disk the states live in `<cache_dir>/<fingerprint>.safetensors`, where the fingerprint hashes

- the assistant: its id/path, its config, its dtype and a checksum of every weight (sum and absolute sum per tensor,
  so a fine-tuned or different checkpoint under the same name still misses the cache);
- the tokenized assistant inputs of every example, in order: they already encode the assistant's prompt template,
  chat template, N placeholders and the data, so changing any of them changes the key.

A cached file is only ever read under its own fingerprint: nothing needs explicit invalidation.
"""

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm
from transformers.utils import logging

from ..processing_softcot import left_pad

logger = logging.get_logger(f"transformers.{__name__}")

CACHE_KEY = "assistant_states"


def assistant_identity(model) -> dict:
    """What identifies the assistant of a SoftCoT `model`: id/path, config, dtype and a weight checksum."""
    assistant = model.assistant
    checksum = hashlib.sha256()
    with torch.no_grad():
        for name, tensor in sorted(assistant.state_dict().items()):
            values = tensor.detach().double()
            checksum.update(name.encode())
            checksum.update(torch.stack([values.sum(), values.abs().sum()]).cpu().numpy().tobytes())
    config = assistant.config.to_dict()
    config.pop("_name_or_path", None)
    return {
        "name_or_path": model.config.assistant_model_name_or_path or assistant.name_or_path,
        "config": config,
        "dtype": str(assistant.dtype),
        "weights": checksum.hexdigest(),
        "num_thought_tokens": model.config.num_thought_tokens,
        "placeholder_token_id": model.config.assistant_placeholder_token_id,
    }


def cache_fingerprint(model, assistant_rows: list[list[int]]) -> str:
    """Hex key of (assistant identity, tokenized assistant inputs of every example in order)."""
    digest = hashlib.sha256(json.dumps(assistant_identity(model), sort_keys=True, default=str).encode())
    for row in assistant_rows:
        digest.update(torch.tensor(row, dtype=torch.int64).numpy().tobytes())
        digest.update(b"|")
    return digest.hexdigest()[:32]


def compute_assistant_states(
    model, assistant_rows: list[list[int]], pad_token_id: int, batch_size: int = 16
) -> torch.Tensor:
    """(num_examples, N, assistant_hidden) states of every row (left-padded batches on the model's device), on CPU."""
    device = model.assistant.get_input_embeddings().weight.device
    states = []
    for start in tqdm(range(0, len(assistant_rows), batch_size), desc="assistant states", leave=False):
        rows = assistant_rows[start : start + batch_size]
        input_ids = left_pad(rows, pad_token_id).to(device)
        attention_mask = left_pad([[1] * len(row) for row in rows], 0).to(device)
        states.append(model.get_assistant_states(input_ids, attention_mask).cpu())
    return torch.cat(states)


def load_or_compute_assistant_states(
    model,
    assistant_rows: list[list[int]],
    pad_token_id: int,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 16,
) -> tuple[torch.Tensor, Path | None, bool]:
    """
    The assistant states of `assistant_rows` (num_examples, N, assistant_hidden): read from `cache_dir` when a file
    with the same fingerprint exists, else computed (and written there when `cache_dir` is given).
    Returns (states, cache file or None, whether it was a cache hit).
    """
    if cache_dir is None:
        return compute_assistant_states(model, assistant_rows, pad_token_id, batch_size), None, False
    path = Path(cache_dir) / f"{cache_fingerprint(model, assistant_rows)}.safetensors"
    if path.exists():
        try:
            return load_file(path)[CACHE_KEY], path, True
        except (SafetensorError, KeyError) as error:  # damaged or foreign: a cache is rebuilt, never trusted
            logger.warning(f"The assistant-state cache {path} is unreadable ({error!r}): computing it again.")
    states = compute_assistant_states(model, assistant_rows, pad_token_id, batch_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    save_file({CACHE_KEY: states.contiguous()}, partial)
    partial.replace(path)  # atomic: a reader never sees half a file
    return states, path, False


__all__ = ["assistant_identity", "cache_fingerprint", "compute_assistant_states", "load_or_compute_assistant_states"]
