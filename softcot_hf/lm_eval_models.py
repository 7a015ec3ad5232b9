"""SoftCoT and Coconut as lm-evaluation-harness model types, `softcot` and `coconut` (docs/use-it-from.md).

Importing this module registers both (`lm_eval.api.registry.register_model`); `softcot-hf lm-eval ...` (or `python -m
softcot_hf.lm_eval_models ...`) is lm-eval's own command line with them registered. Each request's context is the
question: SoftCoT's processor writes it into both prompts, Coconut reads it and thinks first. Only generation tasks
(`generate_until`) are supported: `loglikelihood` requests fail, saying why.
"""

import inspect
import sys
from collections.abc import Mapping

import torch
from lm_eval.api.instance import Instance
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model
from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs
from tqdm import tqdm
from transformers import AutoConfig, AutoModelForCausalLM, AutoProcessor, AutoTokenizer, BatchEncoding

from . import auto  # noqa: F401  (registers SoftCoT and Coconut with the Auto classes)
from .checks import is_model_location


class LatentThoughtLM(LM):
    """
    What both model types share: loading a saved folder (or Hub id), batched generation grouped by identical
    generation settings, stop sequences, and refusing loglikelihood requests.

    Args (`--model_args`): `pretrained` (a folder or Hub id), `dtype` (e.g. `bfloat16`), `revision`; `--batch_size`
    and `--device` as for lm-eval's `hf` model.
    """

    model_type: str  # the `model_type` of the folders this model type loads
    lm_eval_name: str  # the `--model` name it is registered under

    def __init__(
        self,
        pretrained: str | None = None,
        batch_size: int | str = 8,
        device: str | None = None,
        dtype: str | None = None,
        revision: str | None = None,
        max_gen_toks: int = 256,
        **kwargs,
    ):
        super().__init__()
        if kwargs:
            raise ValueError(
                f"Unknown --model_args {sorted(kwargs)} for --model {self.lm_eval_name}; it takes "
                f"{', '.join(self.model_args())} (e.g. --model_args pretrained=runs/x,dtype=bfloat16)."
            )
        if not pretrained:
            raise ValueError(f"Pass --model_args pretrained=FOLDER (or a Hub id): the {self.model_type} model to run.")
        if not is_model_location(pretrained):
            raise FileNotFoundError(
                f"pretrained={pretrained!r} is neither an existing folder nor a Hub id (org/name)."
            )
        self.device_name = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = 8 if str(batch_size).startswith("auto") else _whole_number("batch_size", batch_size)
        self.max_gen_toks = _whole_number("max_gen_toks", max_gen_toks)
        found = AutoConfig.from_pretrained(pretrained, revision=revision).model_type
        if found != self.model_type:
            fix = found if found in ("softcot", "coconut") else "hf (lm-eval's own)"
            raise ValueError(f"{pretrained} holds a {found!r} model, not a {self.model_type} one: use --model {fix}.")
        self.model = AutoModelForCausalLM.from_pretrained(pretrained, revision=revision, dtype=dtype or "auto")
        self.model.to(self.device_name).eval()
        self.pretrained = pretrained

    @classmethod
    def model_args(cls) -> list[str]:
        """The `--model_args` names this model type takes."""
        names = set()
        for klass in cls.__mro__:
            if "__init__" in vars(klass) and issubclass(klass, LatentThoughtLM):
                names.update(inspect.signature(klass.__init__).parameters)
        return sorted(names - {"self", "kwargs"})

    @property
    def tokenizer(self):
        """The tokenizer that decodes answers."""
        raise NotImplementedError

    @property
    def tokenizer_name(self) -> str:
        return self.pretrained.replace("/", "__")

    def encode(self, contexts: list[str]) -> BatchEncoding:
        """The model's generation inputs for a batch of contexts (left-padded)."""
        raise NotImplementedError

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        """One answer per request, cut at the first stop sequence; batched among requests with equal settings."""
        groups: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(repr(sorted(request.args[1].items())), []).append(index)
        answers: list[str | None] = [None] * len(requests)
        progress = tqdm(total=len(requests), disable=disable_tqdm, desc="generate_until (soft thoughts)")
        for indices in groups.values():
            settings = normalize_gen_kwargs(dict(requests[indices[0]].args[1]), self.max_gen_toks)
            until = handle_stop_sequences(settings.pop("until", None), eos=self.tokenizer.eos_token)
            max_new_tokens = settings.pop("max_gen_toks")
            if not settings.get("do_sample"):
                settings.pop("temperature", None)
            for start in range(0, len(indices), self.batch_size):
                batch = indices[start : start + self.batch_size]
                contexts = [requests[i].args[0] for i in batch]
                for i, text in zip(batch, self.generate(contexts, max_new_tokens, settings), strict=True):
                    answers[i] = cut_at_stop(text, until)
                    self.cache_hook.add_partial("generate_until", requests[i].args, answers[i])
                progress.update(len(batch))
        progress.close()
        return answers

    @torch.no_grad()
    def generate(self, contexts: list[str], max_new_tokens: int, settings: Mapping) -> list[str]:
        """The decoded new text of each context (special tokens skipped)."""
        inputs = self.encode(contexts).to(self.device_name)
        output = self.model.generate(**inputs, max_new_tokens=max_new_tokens, **settings)
        return self.tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError(
            f"{type(self).__name__} runs generation tasks only (output_type generate_until): the soft thoughts are "
            "meant to shape a generated rationale, not to score a fixed continuation. Pick a generative variant of "
            "the task (e.g. gsm8k, not a multiple-choice loglikelihood task)."
        )

    loglikelihood_rolling = loglikelihood


def _whole_number(name: str, value: int | str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}.") from None


def cut_at_stop(text: str, until: list[str]) -> str:
    """`text` up to the first occurrence of any stop sequence."""
    for stop in until:
        if stop:
            text = text.split(stop, 1)[0]
    return text


@register_model("softcot")
class SoftCoTLM(LatentThoughtLM):
    """A saved SoftCoT model (projection + config naming the frozen pair) and its processor."""

    model_type = lm_eval_name = "softcot"

    def __init__(self, pretrained: str | None = None, revision: str | None = None, **kwargs):
        super().__init__(pretrained, revision=revision, **kwargs)
        self.processor = AutoProcessor.from_pretrained(pretrained, revision=revision)

    @property
    def tokenizer(self):
        return self.processor.backbone_tokenizer

    def encode(self, contexts: list[str]) -> BatchEncoding:
        return self.processor(contexts)


@register_model("coconut")
class CoconutLM(LatentThoughtLM):
    """A saved Coconut model; `num_latent_thoughts` (`--model_args`) overrides the config's default."""

    model_type = lm_eval_name = "coconut"

    def __init__(
        self,
        pretrained: str | None = None,
        revision: str | None = None,
        num_latent_thoughts: int | None = None,
        **kwargs,
    ):
        super().__init__(pretrained, revision=revision, **kwargs)
        self._tokenizer = AutoTokenizer.from_pretrained(pretrained, revision=revision, padding_side="left")
        self.num_latent_thoughts = (
            None if num_latent_thoughts is None else _whole_number("num_latent_thoughts", num_latent_thoughts)
        )

    @property
    def tokenizer(self):
        return self._tokenizer

    def encode(self, contexts: list[str]) -> BatchEncoding:
        return self.tokenizer(contexts, return_tensors="pt", padding=True)

    def generate(self, contexts: list[str], max_new_tokens: int, settings: Mapping) -> list[str]:
        if self.num_latent_thoughts is not None:
            settings = {**settings, "num_latent_thoughts": self.num_latent_thoughts}
        return super().generate(contexts, max_new_tokens, settings)


def main(argv: list[str] | None = None) -> None:
    """lm-eval's command line (`lm_eval ...`) with the `softcot` and `coconut` model types registered."""
    from lm_eval.__main__ import cli_evaluate

    sys.argv = ["softcot-hf lm-eval", *(sys.argv[1:] if argv is None else argv)]
    cli_evaluate()


__all__ = ["CoconutLM", "LatentThoughtLM", "SoftCoTLM", "main"]

if __name__ == "__main__":
    main()
