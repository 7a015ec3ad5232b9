"""Loading a causal LM and its tokenizer by Hub id or path, with an error that says how to fix a failed load."""

from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from . import auto  # noqa: F401  (registers SoftCoT, CoT-Unk and Coconut with the Auto classes)
from .modeling.frozen_models import hub_failure


def load_lm(
    name_or_path: str | Path, role: str = "model", **from_pretrained_kwargs
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The causal LM and tokenizer at `name_or_path` (`from_pretrained_kwargs` go to the model); a failed load is an
    `OSError` that names the `role` ("backbone", "base model", ...) and says how to get the files offline."""
    name_or_path = str(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        model = AutoModelForCausalLM.from_pretrained(name_or_path, **from_pretrained_kwargs)
    except (OSError, ValueError) as error:
        said = hub_failure(error, name_or_path, from_pretrained_kwargs.get("revision"))
        raise OSError(
            f"Could not load the {role} {name_or_path!r} ({type(error).__name__}: {said}). If it is a Hub id and "
            f"this machine is offline, download it first where there is network (`hf download {name_or_path}`) into "
            "the Hub cache, or pass the local path of a folder holding the model and its tokenizer."
        ) from error
    return model, tokenizer


__all__ = ["load_lm"]
