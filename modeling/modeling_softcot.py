"""PyTorch SoftCoT (arXiv 2502.12134): soft thoughts from a frozen assistant LM, projected into a frozen backbone."""

import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.utils import CONFIG_NAME, SAFE_WEIGHTS_NAME, cached_file

from .configuration_softcot import SoftCoTConfig
from .thought_tokens import select_thought_tokens

# Keyword arguments of `from_pretrained` that locate files; they apply to the SoftCoT repo and the frozen models.
_HUB_KWARGS = ("cache_dir", "force_download", "proxies", "token", "local_files_only")


@dataclass
class SoftCoTCausalLMOutputWithPast(CausalLMOutputWithPast):
    r"""
    Outputs of [`SoftCoTForCausalLM`]: the backbone's causal-LM outputs plus the thoughts it read.

    loss (`torch.FloatTensor` of shape `(1,)`, *optional*, returned when `labels` is provided):
        Next-token loss over the positions whose label is not -100.
    logits (`torch.FloatTensor` of shape `(batch_size, sequence_length, vocab_size)`):
        Backbone logits.
    past_key_values (`Cache`, *optional*):
        The backbone's KV cache; decoding steps reuse it and never recompute the thoughts.
    soft_thoughts (`torch.FloatTensor` of shape `(batch_size, num_thought_tokens, backbone_hidden_size)`, *optional*):
        The projected soft thoughts written into the slots, when this call computed them.
    """

    soft_thoughts: torch.FloatTensor | None = None


class SoftCoTLinearProjection(nn.Module):
    """The paper's projection: `nn.Linear(d_assistant, d_backbone)`, fp32 weights."""

    def __init__(self, config: SoftCoTConfig):
        super().__init__()
        self.linear_1 = nn.Linear(config.assistant_config.hidden_size, config.text_config.hidden_size)

    def forward(self, assistant_states: torch.Tensor) -> torch.Tensor:
        """(batch, N, d_assistant) -> (batch, N, d_backbone), computed in the projection's (fp32) dtype."""
        return self.linear_1(assistant_states.to(self.linear_1.weight.dtype))


class SoftCoTMLPProjection(nn.Module):
    """Linear-GELU-Linear projection, fp32 weights; the hidden width defaults to the backbone's hidden size."""

    def __init__(self, config: SoftCoTConfig):
        super().__init__()
        hidden_size = config.projection_hidden_size or config.text_config.hidden_size
        self.linear_1 = nn.Linear(config.assistant_config.hidden_size, hidden_size)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(hidden_size, config.text_config.hidden_size)

    def forward(self, assistant_states: torch.Tensor) -> torch.Tensor:
        """(batch, N, d_assistant) -> (batch, N, d_backbone), computed in the projection's (fp32) dtype."""
        return self.linear_2(self.act(self.linear_1(assistant_states.to(self.linear_1.weight.dtype))))


PROJECTION_CLASSES = {"linear": SoftCoTLinearProjection, "mlp": SoftCoTMLPProjection}


def position_ids_from_attention_mask(attention_mask: torch.Tensor, query_length: int) -> torch.LongTensor:
    """(batch, past + query) 0/1 mask -> (batch, query) positions that count attended tokens only (left padding)."""
    position_ids = attention_mask.long().cumsum(-1) - 1
    return position_ids.clamp(min=0)[:, -query_length:]


_SHORT_CARD = """---
{{ card_data }}
---

# {{ model_id }}

A SoftCoT projection (Xu et al., ACL 2025, arXiv 2502.12134): a frozen assistant LM writes soft thoughts that a trained
projection maps into the input embeddings of a frozen backbone LM. Only the projection is stored here; the assistant
and backbone (listed as base models) are loaded from their own repos.

```python
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained("{{ model_id }}", trust_remote_code=True)
```
"""


def hub_model_type(repo_id: str, revision: str | None = None, token: bool | str | None = None) -> str | None:
    """`model_type` of the `config.json` already on the Hub in `repo_id` at `revision`; `None` if there is none yet."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        config_file = hf_hub_download(repo_id, "config.json", revision=revision, token=token)
    except (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError):
        return None
    return json.loads(Path(config_file).read_text()).get("model_type")


def refuse_other_model_type(repo_id: str, model_type: str, revision: str | None, token, force: bool) -> bool:
    """Raise if `repo_id` already holds a model of another type (unless `force`); True when its files get replaced."""
    remote_type = hub_model_type(repo_id, revision, token)
    if remote_type is None or remote_type == model_type:
        return False
    if not force:
        raise ValueError(
            f"{repo_id} already holds a {remote_type!r} model; refusing to push a {model_type!r} model over it. Push "
            f"to another repo id, or pass force=True (CLI: --force) to replace the repo's files."
        )
    return True


@contextmanager
def _name_missing_checkpoint(name_or_path: str | os.PathLike, filename: str):
    """Re-raise a failed lookup of the SoftCoT checkpoint's `filename` with the repo, the file and how to fix it."""
    try:
        yield
    except OSError as error:
        raise OSError(
            f"Could not get {filename} of the SoftCoT checkpoint {str(name_or_path)!r}. Offline or with "
            f"local_files_only=True it must already be in the cache: download it once (`hf download {name_or_path}`) "
            f"or pass a local folder. Otherwise check the id, the revision and your access to it. The loader said: "
            f"{error}"
        ) from error


def _rows_with_wrong_count(mask: torch.Tensor, expected: int) -> list[tuple[int, int]]:
    """[(row, count)] for the rows of a (batch, length) bool mask that do not hold exactly `expected` Trues."""
    counts = mask.sum(-1).tolist()
    return [(row, count) for row, count in enumerate(counts) if count != expected]


class SoftCoTPreTrainedModel(PreTrainedModel):
    config: SoftCoTConfig
    supports_gradient_checkpointing = True
    _skip_keys_device_placement = ["past_key_values"]
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    def _init_weights(self, module: nn.Module) -> None:
        """Only the projection is ours to initialise: PyTorch's default `nn.Linear` init, as in the paper."""
        if isinstance(module, nn.Linear):
            module.reset_parameters()


class SoftCoTForCausalLM(SoftCoTPreTrainedModel, GenerationMixin):
    """
    A frozen `assistant` LM reads the question and N placeholders in one forward pass; its last-layer states at the
    placeholders, mapped by the trainable `projection`, replace the embeddings of N slot tokens in the prompt of a
    frozen `backbone` LM, which then generates as usual. Only the projection is trained and saved.
    """

    def __init__(
        self,
        config: SoftCoTConfig,
        assistant: PreTrainedModel | None = None,
        backbone: PreTrainedModel | None = None,
    ):
        super().__init__(config)
        self.assistant = (
            assistant if assistant is not None else AutoModelForCausalLM.from_config(config.assistant_config)
        )
        self.backbone = backbone if backbone is not None else AutoModelForCausalLM.from_config(config.text_config)
        # Share the live sub-configs, so the config describes exactly the models held (and their attention setting).
        config.assistant_config = self.assistant.config
        config.text_config = self.backbone.config
        self.projection = PROJECTION_CLASSES[config.projection_type](config).float()
        self.generation_config = GenerationConfig.from_dict(self.backbone.generation_config.to_dict())
        self.post_init()
        for frozen in (self.assistant, self.backbone):
            frozen.requires_grad_(False)
            frozen.eval()
        # Checkpoints hold the projection only; the frozen models are referenced by id in the config.
        self._keys_to_ignore_on_save = {key for key in self.state_dict() if not key.startswith("projection.")}

    @classmethod
    def from_assistant_and_backbone(
        cls,
        assistant: PreTrainedModel | str,
        backbone: PreTrainedModel | str,
        num_thought_tokens: int = 4,
        assistant_tokenizer=None,
        backbone_tokenizer=None,
        **config_kwargs,
    ) -> "SoftCoTForCausalLM":
        """
        Build a SoftCoT model with a fresh projection. `assistant` and `backbone` are loaded models or Hub ids / paths;
        each side's tokenizer is loaded from the same id/path unless given, and chooses the thought token ids
        (`select_thought_tokens`, the rule `SoftCoTProcessor` also uses). `config_kwargs` go to `SoftCoTConfig`.
        """
        assistant = AutoModelForCausalLM.from_pretrained(assistant) if isinstance(assistant, str) else assistant
        backbone = AutoModelForCausalLM.from_pretrained(backbone) if isinstance(backbone, str) else backbone
        tokenizers = {}
        for side, model, tokenizer in (
            ("assistant", assistant, assistant_tokenizer),
            ("backbone", backbone, backbone_tokenizer),
        ):
            if tokenizer is None:
                if not model.name_or_path:
                    raise ValueError(
                        f"The {side} model has no name_or_path to load its tokenizer from: pass "
                        f"`{side}_tokenizer=` (or the {side} as a Hub id / local path)."
                    )
                tokenizer = AutoTokenizer.from_pretrained(model.name_or_path)
            tokenizers[side] = tokenizer
        tokens = select_thought_tokens(tokenizers["assistant"], tokenizers["backbone"])
        config = SoftCoTConfig(
            assistant_model_name_or_path=assistant.name_or_path or None,
            backbone_model_name_or_path=backbone.name_or_path or None,
            assistant_config=assistant.config.to_dict(),
            text_config=backbone.config.to_dict(),
            num_thought_tokens=num_thought_tokens,
            **tokens.config_kwargs(),
            **config_kwargs,
        )
        return cls(config, assistant=assistant, backbone=backbone)

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *model_args,
        config: SoftCoTConfig | None = None,
        assistant: PreTrainedModel | None = None,
        backbone: PreTrainedModel | None = None,
        revision: str | None = None,
        subfolder: str = "",
        **kwargs,
    ) -> "SoftCoTForCausalLM":
        """
        Load the two frozen models by reference (their ids are in `config.json`), then the projection.

        `revision`/`subfolder` locate the SoftCoT checkpoint; `dtype`, `device_map`, `attn_implementation` and any
        other loading argument go to both frozen models; `token`, `cache_dir`, `local_files_only`, ... go to all three.
        Pass `assistant=`/`backbone=` to reuse models already loaded.
        """
        if model_args:
            raise TypeError(
                f"SoftCoTForCausalLM.from_pretrained takes no positional model arguments, got {model_args}"
            )
        # `adapter_kwargs` (the Auto classes pass the SoftCoT repo's resolved revision there) describe this repo, not
        # the frozen models: forwarding them would look for the frozen models at the SoftCoT repo's commit.
        kwargs = {key: value for key, value in kwargs.items() if not key.startswith("_") and key != "adapter_kwargs"}
        hub_kwargs = {key: kwargs[key] for key in _HUB_KWARGS if key in kwargs}
        location = {"revision": revision, "subfolder": subfolder, **hub_kwargs}
        if not isinstance(config, SoftCoTConfig):
            with _name_missing_checkpoint(pretrained_model_name_or_path, CONFIG_NAME):
                config = SoftCoTConfig.from_pretrained(pretrained_model_name_or_path, **location)
        source = str(pretrained_model_name_or_path)
        assistant = assistant or cls._load_frozen(config, "assistant", kwargs, source)
        backbone = backbone or cls._load_frozen(config, "backbone", kwargs, source)
        model = cls(config, assistant=assistant, backbone=backbone)

        with _name_missing_checkpoint(pretrained_model_name_or_path, SAFE_WEIGHTS_NAME):
            weights_file = cached_file(pretrained_model_name_or_path, SAFE_WEIGHTS_NAME, **location)
        model.load_projection(load_file(weights_file), source=str(pretrained_model_name_or_path))
        model.projection.to(model.backbone.get_input_embeddings().weight.device)
        generation_file = cached_file(
            pretrained_model_name_or_path,
            "generation_config.json",
            _raise_exceptions_for_missing_entries=False,
            **location,
        )
        if generation_file is not None:
            model.generation_config = GenerationConfig.from_dict(json.loads(Path(generation_file).read_text()))
        return model.eval()

    @staticmethod
    def _load_frozen(
        config: SoftCoTConfig, side: str, kwargs: dict, source: str = "this SoftCoT checkpoint"
    ) -> PreTrainedModel:
        """Load the frozen `side` ("assistant" or "backbone") by reference. An attention implementation that
        `AutoModel*.from_pretrained` absorbed into the config (it sets it on every sub-config) still applies."""
        name_or_path = getattr(config, f"{side}_model_name_or_path")
        if not name_or_path:
            raise ValueError(
                f"config.json does not name the {side} model ({side}_model_name_or_path is empty): pass `{side}=` a "
                f"loaded model, or set `config.{side}_model_name_or_path` to its Hub id or path before saving."
            )
        sub_config = config.assistant_config if side == "assistant" else config.text_config
        if sub_config._attn_implementation is not None:
            kwargs = {"attn_implementation": sub_config._attn_implementation, **kwargs}
        try:
            return AutoModelForCausalLM.from_pretrained(name_or_path, **kwargs)
        except OSError as error:
            raise OSError(
                f"Could not load the frozen {side} model {name_or_path!r} that {source} references "
                f"({side}_model_name_or_path in its config.json). A SoftCoT checkpoint holds only the projection; the "
                f"{side} comes from its own repo. Offline or with local_files_only=True it must already be in the "
                f"cache: download it once (`hf download {name_or_path}`), or pass `{side}=` a loaded model. "
                f"Otherwise check the id and your access to it. The loader said: {error}"
            ) from error

    def load_projection(self, state_dict: dict[str, torch.Tensor], source: str = "the checkpoint") -> None:
        """Load projection tensors (keys `projection.*`), failing clearly if they were trained for other models."""
        expected = {f"projection.{key}": value.shape for key, value in self.projection.state_dict().items()}
        found = {key: value.shape for key, value in state_dict.items()}
        if expected != found:
            d_in = self.config.assistant_config.hidden_size
            d_out = self.config.text_config.hidden_size
            raise ValueError(
                f"The projection in {source} does not fit these models: it holds {found}, but a "
                f"{self.config.projection_type!r} projection from the assistant "
                f"({self.config.assistant_model_name_or_path}, hidden size {d_in}) to the backbone "
                f"({self.config.backbone_model_name_or_path}, hidden size {d_out}) needs {expected}. Load it with the "
                "assistant and backbone it was trained for (config.json names them), or train a new projection."
            )
        self.projection.load_state_dict({key.removeprefix("projection."): value for key, value in state_dict.items()})

    def push_to_hub(
        self,
        repo_id: str,
        *,
        model_card: str | None = None,
        force: bool = False,
        commit_message: str | None = None,
        commit_description: str | None = None,
        private: bool | None = None,
        token: bool | str | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        tags: list[str] | None = None,
    ):
        """
        Upload what `save_pretrained` writes: `config.json` (the frozen models by id), the projection-only safetensors,
        `generation_config.json` and the remote code; never a byte of the frozen models. Returns the `CommitInfo`.

        README.md: `model_card` if given (`softcot_hf.hub.render_model_card` renders the full card), else the repo's
        card is kept, else a short card naming both base models. The stock push would write a generic card over ours.
        A repo that holds another model type is refused unless `force=True`, which replaces its files.
        """
        from huggingface_hub import HfApi, ModelCard, ModelCardData

        api = HfApi(token=token)
        replace = refuse_other_model_type(repo_id, self.config.model_type, revision, token, force)
        repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
        if revision is not None and not create_pr:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        with tempfile.TemporaryDirectory() as folder:
            self.save_pretrained(folder)
            if model_card is None and (replace or not api.file_exists(repo_id, "README.md", revision=revision)):
                bases = [self.config.backbone_model_name_or_path, self.config.assistant_model_name_or_path]
                data = ModelCardData(
                    base_model=[base for base in bases if base and not Path(base).exists()] or None,
                    library_name="transformers",
                    tags=["softcot", "latent-reasoning", *(tags or [])],
                    pipeline_tag="text-generation",
                )
                model_card = str(ModelCard.from_template(data, template_str=_SHORT_CARD, model_id=repo_id))
            if model_card is not None:
                Path(folder, "README.md").write_text(model_card, encoding="utf-8")
            return api.upload_folder(
                repo_id=repo_id,
                folder_path=folder,
                commit_message=commit_message or "Upload SoftCoT projection",
                commit_description=commit_description,
                revision=revision,
                create_pr=create_pr,
                delete_patterns=["*", "**/*"] if replace else None,
            )

    def train(self, mode: bool = True) -> "SoftCoTForCausalLM":
        """Switch the projection's mode; the frozen models always stay in eval mode (no dropout)."""
        super().train(mode)
        self.assistant.eval()
        self.backbone.eval()
        return self

    def get_input_embeddings(self) -> nn.Module:
        return self.backbone.get_input_embeddings()

    def get_output_embeddings(self) -> nn.Module:
        return self.backbone.get_output_embeddings()

    def get_assistant_placeholder_mask(
        self, assistant_input_ids: torch.LongTensor, assistant_attention_mask: torch.Tensor | None = None
    ) -> torch.BoolTensor:
        """(batch, assistant_length) True at the assistant's placeholders; padding never counts, even if same id."""
        mask = assistant_input_ids == self.config.assistant_placeholder_token_id
        return mask if assistant_attention_mask is None else mask & assistant_attention_mask.bool()

    def get_placeholder_mask(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None
    ) -> torch.BoolTensor:
        """(batch, length) True at the backbone's thought slots; padding never counts, even if same id."""
        mask = input_ids == self.config.thought_token_id
        if attention_mask is not None:
            mask = mask & attention_mask[:, -input_ids.shape[1] :].bool()
        return mask

    def get_assistant_states(
        self, assistant_input_ids: torch.LongTensor, assistant_attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """
        One assistant forward over (batch, assistant_length) inputs; returns its last-layer states at the N
        placeholders, before the projection: (batch, N, assistant_hidden_size). The assistant is frozen, so these
        depend only on the inputs and can be cached across epochs (pass them back as `assistant_hidden_states`).
        """
        n = self.config.num_thought_tokens
        mask = self.get_assistant_placeholder_mask(assistant_input_ids, assistant_attention_mask)
        if wrong := _rows_with_wrong_count(mask, n):
            raise ValueError(
                f"Each assistant prompt must hold exactly num_thought_tokens={n} placeholder tokens "
                f"(id {self.config.assistant_placeholder_token_id}); (row, count) {wrong} do not. Build the inputs "
                "with SoftCoTProcessor, or write exactly N placeholders after each assistant prompt."
            )
        if assistant_attention_mask is None:
            assistant_attention_mask = torch.ones_like(assistant_input_ids)
        with torch.no_grad():
            outputs = self.assistant.base_model(
                input_ids=assistant_input_ids,
                attention_mask=assistant_attention_mask,
                position_ids=position_ids_from_attention_mask(assistant_attention_mask, assistant_input_ids.shape[1]),
                use_cache=False,
            )
        return outputs.last_hidden_state[mask].view(assistant_input_ids.shape[0], n, -1)

    def get_soft_thoughts(
        self,
        assistant_input_ids: torch.LongTensor | None = None,
        assistant_attention_mask: torch.Tensor | None = None,
        assistant_hidden_states: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """
        Soft thoughts (batch, N, backbone_hidden_size) in the backbone's dtype: the assistant's states at the N
        placeholders (computed from the assistant inputs, or given precomputed as `assistant_hidden_states`,
        (batch, N, assistant_hidden_size)), projected.
        """
        if assistant_hidden_states is None:
            assistant_hidden_states = self.get_assistant_states(assistant_input_ids, assistant_attention_mask)
        expected = (self.config.num_thought_tokens, self.config.assistant_config.hidden_size)
        if tuple(assistant_hidden_states.shape[1:]) != expected:
            raise ValueError(
                f"assistant_hidden_states has shape {tuple(assistant_hidden_states.shape)}; expected (batch, "
                f"{expected[0]}, {expected[1]}) = (batch, num_thought_tokens, assistant hidden size), as returned "
                "by get_assistant_states."
            )
        return self.projection(assistant_hidden_states).to(self.backbone.get_input_embeddings().weight.dtype)

    def embed_with_thoughts(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        assistant_input_ids: torch.LongTensor | None = None,
        assistant_attention_mask: torch.Tensor | None = None,
        assistant_hidden_states: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """
        Backbone input embeddings (batch, length, hidden) with the N slots of each row filled by soft thoughts.
        Returns the embeddings and the thoughts (`None` when the inputs hold no slots and no assistant inputs).
        """
        slots = self.get_placeholder_mask(input_ids, attention_mask)
        has_slots = bool(slots.any())
        has_assistant = assistant_input_ids is not None or assistant_hidden_states is not None
        if not has_assistant and has_slots:
            raise ValueError(
                f"input_ids hold thought slots (id {self.config.thought_token_id}) but no assistant_input_ids were "
                "given, so there are no soft thoughts to put there. Pass the processor's whole output: "
                "`model(**processor(questions))` or `model.generate(**processor(questions), ...)`."
            )
        # Slot ids may lie outside the embedding table: never look them up.
        embeddings = self.get_input_embeddings()(input_ids.masked_fill(input_ids == self.config.thought_token_id, 0))
        if not has_assistant:
            return embeddings, None
        assistant_rows = (assistant_input_ids if assistant_hidden_states is None else assistant_hidden_states).shape[0]
        if assistant_rows != input_ids.shape[0]:
            raise ValueError(
                f"The assistant inputs have {assistant_rows} rows but input_ids has {input_ids.shape[0]}: "
                "each backbone prompt needs its own assistant prompt."
            )
        n = self.config.num_thought_tokens
        if wrong := _rows_with_wrong_count(slots, n):
            raise ValueError(
                f"Each backbone prompt must hold exactly num_thought_tokens={n} thought slots "
                f"(id {self.config.thought_token_id}); (row, count) {wrong} do not. Build the inputs with "
                "SoftCoTProcessor, or write exactly N slot tokens in each prompt."
            )
        thoughts = self.get_soft_thoughts(assistant_input_ids, assistant_attention_mask, assistant_hidden_states)
        embeddings = embeddings.masked_scatter(slots.unsqueeze(-1), thoughts.to(embeddings.dtype))
        return embeddings, thoughts

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        assistant_input_ids: torch.LongTensor | None = None,
        assistant_attention_mask: torch.Tensor | None = None,
        assistant_hidden_states: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs,
    ) -> SoftCoTCausalLMOutputWithPast:
        r"""
        input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`):
            Backbone tokens; at prefill each row holds N thought slots (`config.thought_token_id`).
        assistant_input_ids (`torch.LongTensor` of shape `(batch_size, assistant_length)`, *optional*):
            Assistant tokens with N placeholders per row; required whenever `input_ids` hold slots (unless
            `assistant_hidden_states` are given).
        assistant_hidden_states (`torch.FloatTensor` of shape `(batch_size, N, assistant_hidden_size)`, *optional*):
            Precomputed `get_assistant_states(...)`; skips the assistant forward (a training-time cache).
        labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
            Targets aligned with `input_ids` (shifted inside); -100 positions are ignored.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        soft_thoughts = None
        if inputs_embeds is None:
            inputs_embeds, soft_thoughts = self.embed_with_thoughts(
                input_ids, attention_mask, assistant_input_ids, assistant_attention_mask, assistant_hidden_states
            )
        if position_ids is None and attention_mask is not None:
            position_ids = position_ids_from_attention_mask(attention_mask, inputs_embeds.shape[1])
        outputs = self.backbone(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            labels=labels,
            use_cache=use_cache,
            logits_to_keep=logits_to_keep,
            **kwargs,
        )
        return SoftCoTCausalLMOutputWithPast(
            loss=outputs.loss,
            logits=outputs.logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            soft_thoughts=soft_thoughts,
        )

    def prepare_inputs_for_generation(self, *args, is_first_iteration: bool | None = False, **kwargs) -> dict:
        """Assistant inputs travel only at prefill; decoding steps read the thoughts from the backbone's cache."""
        model_inputs = super().prepare_inputs_for_generation(*args, is_first_iteration=is_first_iteration, **kwargs)
        if not is_first_iteration and model_inputs.get("past_key_values") is not None:
            model_inputs.pop("assistant_input_ids", None)
            model_inputs.pop("assistant_attention_mask", None)
            model_inputs.pop("assistant_hidden_states", None)
        return model_inputs


SoftCoTForCausalLM.register_for_auto_class("AutoModelForCausalLM")

__all__ = [
    "SoftCoTCausalLMOutputWithPast",
    "SoftCoTForCausalLM",
    "SoftCoTLinearProjection",
    "SoftCoTMLPProjection",
    "SoftCoTPreTrainedModel",
]
