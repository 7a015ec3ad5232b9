"""PyTorch Coconut model: a causal LM that reasons in continuous thoughts (Hao et al., arXiv 2412.06769)."""

import copy
from dataclasses import dataclass

import torch
from huggingface_hub import CommitInfo
from transformers import AutoModelForCausalLM, GenerationMixin, PreTrainedModel, PreTrainedTokenizerBase
from transformers.cache_utils import Cache, DynamicCache
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs
from transformers.utils.generic import can_return_tuple

from .compat import (
    CACHE_KWARG,
    WrapperGenerationMixin,
    attn_implementation,
    cached_length,
    check_padding_has_mask,
    check_positions,
    check_token_ids,
    is_prefill,
    output_cache,
    pop_cache,
    position_ids_from_attention_mask,
)
from .configuration_coconut import CoconutConfig
from .hub_push import push_model
from .latent_projection import LatentProjection
from .thought_inspection import (
    ThoughtInspectionOutput,
    decode_thought_steps,
    inspect_thought_vectors,
    load_step_decoder,
)
from .thought_tokens import _single_token_id, suppress_internal_tokens
from .weights_record import WeightsRecordMixin

START_LATENT_TOKEN = "<|start-latent|>"
END_LATENT_TOKEN = "<|end-latent|>"
LATENT_TOKEN = "<|latent|>"


def _vocabulary_id(tokenizer: PreTrainedTokenizerBase, token: str) -> int:
    """The id of `token`, an entry of `tokenizer`'s vocabulary (not a text that tokenizes to several ids)."""
    token_id = _single_token_id(tokenizer, token)
    if token_id is None:
        raise ValueError(
            f"new_token_init={token!r}: the tokenizer has no token {token!r} in its vocabulary, so the Coconut tokens "
            'cannot copy its embedding. Pass new_token_init="mean" (the mean of the existing rows) or a token the '
            "vocabulary holds as one entry."
        )
    return token_id


def kept_positions(logits_to_keep: int | torch.Tensor) -> slice | torch.Tensor:
    """As in transformers' LMs: an int keeps the last `logits_to_keep` positions (0: all), a 1D tensor indexes them."""
    return slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep


@dataclass
class CoconutCausalLMOutputWithPast(CausalLMOutputWithPast):
    r"""
    thoughts (`torch.FloatTensor` of shape `(batch_size, num_latents, hidden_size)`, *optional*):
        With `output_thoughts=True`: the continuous thought fed to each row's `<|latent|>` positions, in order (row
        b's first `num_latents_b` entries; zeros after), differentiable. What step-level supervision (SIM-CoT) reads.
    """

    thoughts: torch.FloatTensor | None = None


def gather_thoughts(hidden_states: torch.Tensor, latent_mask: torch.Tensor) -> torch.Tensor:
    """(batch, seq_len, hidden) states of every position and the latent positions -> (batch, max_latents, hidden):
    the state of the position before each latent (the thought fed to it), zero-padded per row."""
    rows, columns = latent_mask.nonzero(as_tuple=True)
    order = latent_mask.long().cumsum(-1)[rows, columns] - 1
    thoughts = hidden_states.new_zeros(latent_mask.shape[0], int(latent_mask.sum(-1).max()), hidden_states.shape[-1])
    return thoughts.index_put((rows, order), hidden_states[rows, columns - 1])


class CoconutPreTrainedModel(WeightsRecordMixin, PreTrainedModel):
    config: CoconutConfig
    base_model_prefix = "language_model"
    # Gradient checkpointing drops the KV cache inside the layers, and the passes over latent thoughts need it.
    supports_gradient_checkpointing = False
    _skip_keys_device_placement = ["cache", "past_key_values"]

    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True


class CoconutForCausalLM(WrapperGenerationMixin, CoconutPreTrainedModel, GenerationMixin):
    r"""
    Any causal LM (`language_model`) that reads `<|latent|>` positions as continuous thoughts: the input embedding of
    a latent position is the last hidden state (after the final norm) of the position before it, or with
    `config.latent_projection="mlp"` that state through CODI's `LatentProjection`.

    Build one from a base LM with [`CoconutForCausalLM.from_base`]; a saved one loads with
    `AutoModelForCausalLM.from_pretrained(path, trust_remote_code=True)`.
    """

    _trained_module = None  # fully fine-tuned: a push uploads every weight
    _generating = False  # True inside `generate`: see `_refuse_latents_over_cache`

    def __init__(self, config: CoconutConfig, language_model: PreTrainedModel | None = None):
        super().__init__(config)
        self.language_model = (
            language_model if language_model is not None else AutoModelForCausalLM.from_config(config.text_config)
        )
        # CODI: the fed-back hidden state goes through an MLP + LayerNorm (None: as it is, Coconut)
        hidden_size = config.get_text_config().hidden_size
        self.latent_projection = LatentProjection(hidden_size) if config.latent_projection == "mlp" else None
        self.post_init()

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: torch.nn.Module):
        self.language_model.set_input_embeddings(value)

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.language_model.get_output_embeddings()

    def set_output_embeddings(self, new_embeddings: torch.nn.Module):
        self.language_model.set_output_embeddings(new_embeddings)

    @classmethod
    def from_base(
        cls,
        model_or_id: PreTrainedModel | str,
        tokenizer: PreTrainedTokenizerBase,
        new_token_init: str = "mean",
        **config_kwargs,
    ) -> "CoconutForCausalLM":
        r"""
        Wraps a causal LM (a loaded model, or a Hub id / path loaded with `AutoModelForCausalLM`) for Coconut training.

        Sets `tokenizer`'s pad token to its EOS token when it has none (in place), for batched use. Adds
        `<|start-latent|>`, `<|end-latent|>` and `<|latent|>` to `tokenizer` (in place) as special tokens, so
        `decode(..., skip_special_tokens=True)` hides them, and grows the embedding matrix if it has no rows for them.
        The rows of tokens new to the tokenizer, in the input embeddings and in an untied output layer, start as
        `new_token_init` says:

        - `"mean"`: the mean of the rows of the tokens the tokenizer already had, the "average" token (Hewitt, 2021),
          so the LM's outputs are not disturbed and no new token starts with an outsized logit. Works with any
          tokenizer.
        - a token of the tokenizer's vocabulary, e.g. `"<<"` (what the official Coconut code does, copying GPT-2's
          `<<` row; facebookresearch/coconut#41): a copy of that token's rows. A token the vocabulary does not hold
          as one entry raises a `ValueError` (pass `"mean"` or another token).

        The model's generation config never emits the three tokens (`suppress_internal_tokens`). `config_kwargs` go
        to [`CoconutConfig`] (`c_thought`, `max_latent_stage`, `num_latent_thoughts`).
        """
        language_model = (
            AutoModelForCausalLM.from_pretrained(model_or_id) if isinstance(model_or_id, str) else model_or_id
        )
        source_id = None if new_token_init == "mean" else _vocabulary_id(tokenizer, new_token_init)
        if tokenizer.pad_token is None:  # LLaMA-3 and GPT-2 have none; batched generation and collators need one
            tokenizer.pad_token = tokenizer.eos_token
        num_known_tokens = len(tokenizer)
        tokenizer.add_special_tokens(
            {"extra_special_tokens": [START_LATENT_TOKEN, END_LATENT_TOKEN, LATENT_TOKEN]},
            replace_extra_special_tokens=False,
        )
        token_ids = tokenizer.convert_tokens_to_ids([START_LATENT_TOKEN, END_LATENT_TOKEN, LATENT_TOKEN])

        num_rows = language_model.get_input_embeddings().weight.shape[0]
        if len(tokenizer) > num_rows:
            language_model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        new_ids = [token_id for token_id in token_ids if token_id >= num_known_tokens]
        with torch.no_grad():
            for embeddings in (language_model.get_input_embeddings(), language_model.get_output_embeddings()):
                known = embeddings.weight[:num_known_tokens]
                embeddings.weight[new_ids] = known.mean(0) if source_id is None else known[source_id].clone()

        config = CoconutConfig(
            text_config=language_model.config,
            start_latent_token_id=token_ids[0],
            end_latent_token_id=token_ids[1],
            latent_token_id=token_ids[2],
            # A composite config sets its attention implementation on its sub-configs, and `None` would make the
            # (shared) config of `language_model` non-causal: keep the one it was loaded with.
            attn_implementation=attn_implementation(language_model.config),
            **config_kwargs,
        )
        model = cls(config, language_model=language_model)
        model.generation_config = copy.deepcopy(language_model.generation_config)
        if model.generation_config.pad_token_id is None:
            model.generation_config.pad_token_id = tokenizer.pad_token_id
        suppress_internal_tokens(model.generation_config, token_ids)
        return model

    def push_to_hub(self, repo_id: str, **push_kwargs) -> CommitInfo:
        """Upload the trained weights, config, remote code and model card in one commit (`hub_push.push_model`, whose
        keyword arguments it takes): local paths and frozen models' weights are refused before any request."""
        return push_model(self, repo_id, **push_kwargs)

    def _check_token_ids(self):
        if None in (self.config.start_latent_token_id, self.config.end_latent_token_id, self.config.latent_token_id):
            raise ValueError(
                "The config has no ids for the Coconut tokens. Build the model with "
                "`CoconutForCausalLM.from_base(model, tokenizer)`: it adds <|start-latent|>, <|end-latent|> and "
                "<|latent|> to the tokenizer and records their ids in the config."
            )

    def _refuse_latents_over_cache(self, input_ids: torch.LongTensor, cache: Cache) -> None:
        """A `<|latent|>` given over a filled cache cannot be a thought (it needs the hidden state of the position
        before it, from the same forward): refuse it rather than read it as an ordinary token. `generate`'s own
        decoding steps skip this: a latent token the model generates is an ordinary token there."""
        if self.config.latent_token_id is not None and (input_ids == self.config.latent_token_id).any():
            raise ValueError(
                f"input_ids hold <|latent|> (id {self.config.latent_token_id}) but the KV cache already holds "
                f"{cached_length(cache)} positions. Continuous thoughts are computed only at prefill, from an empty "
                "cache: each is the last hidden state of the position before it in the same forward. Pass the "
                "question and its latents in one forward without a cache, or call `generate` (it runs the thoughts "
                "itself). To feed a <|latent|> as an ordinary token over a cache, pass "
                "`inputs_embeds=model.get_input_embeddings()(input_ids)` instead of input_ids."
            )

    def _forward_latents(
        self,
        inputs_embeds: torch.Tensor,
        latent_mask: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.LongTensor,
        cache: Cache | None,
        use_cache: bool,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs: Unpack[TransformersKwargs],
    ) -> BaseModelOutputWithPast:
        r"""
        Runs the LM over a sequence with latent positions, in `K + 1` passes for at most `K` latents in a row.

        Pass 0 computes each row up to its first latent (excluded); pass `i > 0` computes each row's `i`-th latent and
        the tokens after it, up to its next latent (excluded) or its end. The `i`-th latent's input embedding is the
        last hidden state of the row's pass `i - 1`, i.e. of the position before it (through `latent_projection` when
        the config names one, CODI). Each pass appends its positions
        to one KV cache and attends to all earlier ones, so the result equals filling the latents one at a time with
        full passes, and gradients flow through every thought. Rows may hold different numbers of latents at
        different offsets: a row's piece of a pass that is shorter than the longest one is left-padded inside the pass
        (masked cache slots, which also count towards a sliding attention window). When every row's latents sit at
        the same columns, as in a left-padded batch of prompts, there is no such padding.

        Args:
            inputs_embeds (`torch.Tensor` of shape `(batch_size, seq_len, hidden_size)`): token embeddings.
            latent_mask (`torch.BoolTensor` of shape `(batch_size, seq_len)`): `True` at `<|latent|>` positions.
            attention_mask (`torch.Tensor` of shape `(batch_size, seq_len)`): 1 for tokens, 0 for padding.
            position_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`): positions of the tokens.
            cache (`Cache`, *optional*): an empty cache to fill (a new `DynamicCache` if `None`).
            logits_to_keep (`int` or `torch.Tensor`, *optional*): the positions whose hidden states are gathered, as
                in `forward` (an int keeps the last ones, 0 all of them; a 1D tensor indexes them).

        Returns:
            [`BaseModelOutputWithPast`] whose `last_hidden_state` has shape `(batch_size, kept_len, hidden_size)`
            (`kept_len = seq_len` for `logits_to_keep=0`), whose `hidden_states` (with `output_hidden_states=True` in
            `kwargs`) are the embeddings' and every layer's output at the same positions, and whose cache is the one
            filled here when `use_cache` and it is free of padding slots (else `None`).
        """
        previous_is_token = torch.nn.functional.pad(attention_mask[:, :-1].bool(), (1, 0))
        if (latent_mask & ~previous_is_token).any():
            raise ValueError("Every <|latent|> token must follow a token of its sequence (e.g. <|start-latent|>).")

        batch_size, seq_len, hidden_size = inputs_embeds.shape
        # Layout of the passes: pass `i` holds the positions that follow `i` latents (the `i`-th latent included).
        pass_ids = latent_mask.long().cumsum(-1)
        num_passes = int(pass_ids.max()) + 1
        lengths = torch.zeros(batch_size, num_passes, dtype=torch.long, device=latent_mask.device)
        lengths.scatter_add_(1, pass_ids, torch.ones_like(pass_ids))
        widths = lengths.max(0).values
        pass_ends = widths.cumsum(0)
        # Slot of each position in the cache: a row's piece of a pass ends where the pass ends.
        shift = pass_ends - lengths.cumsum(-1)
        slots = torch.arange(seq_len, device=latent_mask.device) + shift.gather(1, pass_ids)
        num_slots = int(pass_ends[-1])

        def to_slots(values: torch.Tensor) -> torch.Tensor:
            index = slots.view(*slots.shape, *([1] * (values.dim() - 2))).expand_as(values)
            return values.new_zeros(batch_size, num_slots, *values.shape[2:]).scatter(1, index, values)

        slot_embeds, slot_mask = to_slots(inputs_embeds), to_slots(attention_mask)
        slot_positions = to_slots(position_ids.expand(batch_size, -1))
        slot_is_latent = to_slots(latent_mask)

        cache = cache if cache is not None else DynamicCache(config=self.config.get_text_config())
        decoder = self.language_model.get_decoder()
        hidden_states, layer_states, thought, start = [], [], None, 0
        for end in pass_ends.tolist():
            embeds = slot_embeds[:, start:end]
            if thought is not None:
                embeds = torch.where(slot_is_latent[:, start:end, None], thought[:, None].to(embeds.device), embeds)
            outputs = decoder(
                inputs_embeds=embeds,
                attention_mask=slot_mask[:, :end],
                position_ids=slot_positions[:, start:end],
                use_cache=True,
                **{CACHE_KWARG: cache},
                **kwargs,
            )
            hidden_states.append(outputs.last_hidden_state)
            layer_states.append(outputs.hidden_states)  # per layer, with output_hidden_states=True (else None)
            thought = outputs.last_hidden_state[:, -1]
            if self.latent_projection is not None:
                thought = self.latent_projection(thought)
            start = end

        kept_slots = slots[:, kept_positions(logits_to_keep)].to(hidden_states[-1].device)

        def kept(states: list[torch.Tensor]) -> torch.Tensor:
            return torch.cat(states, dim=1).gather(1, kept_slots[..., None].expand(-1, -1, hidden_size))

        per_layer = None
        if layer_states[0] is not None:  # one tuple per pass -> one tensor per layer
            per_layer = tuple(kept(list(layer)) for layer in zip(*layer_states, strict=True))
        return BaseModelOutputWithPast(
            last_hidden_state=kept(hidden_states),
            hidden_states=per_layer,
            **{CACHE_KWARG: cache if use_cache and num_slots == seq_len else None},
        )

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        output_thoughts: bool = False,
        **kwargs: Unpack[TransformersKwargs],
    ) -> CoconutCausalLMOutputWithPast:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`):
                Tokens. At prefill (nothing cached yet) `<|latent|>` positions are filled with continuous thoughts (see
                `_forward_latents`); without latents, or in a decoding step (where a generated `<|latent|>` is an
                ordinary token), this is one ordinary pass of the language model.
            attention_mask (`torch.Tensor` of shape `(batch_size, past_len + seq_len)`, *optional*):
                1 for tokens, 0 for padding (left or right).
            position_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*):
                Defaults to the count of attended tokens before each position, so left padding does not shift them.
            inputs_embeds (`torch.Tensor` of shape `(batch_size, seq_len, hidden_size)`, *optional*):
                Instead of `input_ids`, for sequences without latents.
            labels (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*):
                Next-token targets (shifted inside); positions set to -100 are ignored.
            cache / past_key_values (`Cache`, *optional*):
                The KV cache, under either name; empty or absent means prefill.
            output_thoughts (`bool`, *optional*):
                Also return `thoughts` (see [`CoconutCausalLMOutputWithPast`]; None without latents). Needs
                `logits_to_keep=0`.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        use_cache = use_cache if use_cache is not None else self.config.get_text_config().use_cache
        cache = pop_cache(kwargs)
        length = (input_ids if inputs_embeds is None else inputs_embeds).shape[1]
        check_positions(self.config.get_text_config(), cached_length(cache) + length, "language model")

        has_latents = False
        if input_ids is not None and is_prefill(cache):
            self._check_token_ids()
            check_token_ids(input_ids, self.config.get_text_config().vocab_size, "language model")
            check_padding_has_mask(input_ids, attention_mask, self.config.get_text_config(), "language model")
            latent_mask = input_ids == self.config.latent_token_id
            has_latents = bool(latent_mask.any())
        elif input_ids is not None and not self._generating:
            self._refuse_latents_over_cache(input_ids, cache)
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        if has_latents and attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if has_latents and (not isinstance(attention_mask, torch.Tensor) or attention_mask.ndim != 2):
            raise ValueError(
                "Inputs with <|latent|> tokens need the (batch, seq_len) padding mask (1 for tokens, 0 for padding) "
                "to lay out the latent passes, not a prepared 4D attention mask."
            )
        if position_ids is None and attention_mask is not None:
            position_ids = position_ids_from_attention_mask(attention_mask, inputs_embeds.shape[1])

        if has_latents:
            outputs = self._forward_latents(
                inputs_embeds, latent_mask, attention_mask, position_ids, cache, use_cache, logits_to_keep, **kwargs
            )
            kept_hidden_states = outputs.last_hidden_state  # gathered at the kept positions only
        else:
            outputs = self.language_model.get_decoder()(
                inputs_embeds=inputs_embeds,
                attention_mask=attention_mask,
                position_ids=position_ids,
                use_cache=use_cache,
                **{CACHE_KWARG: cache},
                **kwargs,
            )
            kept_hidden_states = outputs.last_hidden_state[:, kept_positions(logits_to_keep)]

        thoughts = None
        if output_thoughts and has_latents:
            if not (isinstance(logits_to_keep, int) and logits_to_keep == 0):
                raise ValueError("output_thoughts=True reads the states of every position: pass logits_to_keep=0.")
            thoughts = gather_thoughts(kept_hidden_states, latent_mask)
        logits = self.get_output_embeddings()(kept_hidden_states)
        loss = None
        if labels is not None:
            loss = self.loss_function(
                logits=logits, labels=labels, vocab_size=self.config.get_text_config().vocab_size, **kwargs
            )
        return CoconutCausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            thoughts=thoughts,
            **{CACHE_KWARG: output_cache(outputs)},
        )

    def _decoding_language_model(self) -> PreTrainedModel:
        """The LM that runs the decoding steps: a generated `<|latent|>` is an ordinary token there."""
        return self.language_model

    def _append_thought_tokens(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None, num_latent_thoughts: int | None
    ) -> tuple[torch.LongTensor, torch.Tensor | None]:
        """Questions (batch, prompt_len) -> (batch, prompt_len + K + 2): `<|start-latent|>`, K `<|latent|>` and
        `<|end-latent|>` appended (K defaults to `config.num_latent_thoughts`), the mask grown to match."""
        num_latent_thoughts = self.config.num_latent_thoughts if num_latent_thoughts is None else num_latent_thoughts
        if num_latent_thoughts < 0:
            raise ValueError(f"`num_latent_thoughts` must be 0 or more, got {num_latent_thoughts}.")
        coconut_ids = [self.config.start_latent_token_id, self.config.end_latent_token_id, self.config.latent_token_id]
        if torch.isin(input_ids, torch.tensor(coconut_ids, device=input_ids.device)).any():
            raise ValueError(
                "`generate` and `inspect_thoughts` take questions only, but `input_ids` already contain Coconut "
                "tokens. Pass the question without <|start-latent|>, <|latent|> or <|end-latent|>: they append them, "
                "with the number of thoughts set by `num_latent_thoughts`."
            )

        thought_ids = [self.config.start_latent_token_id]
        thought_ids += [self.config.latent_token_id] * num_latent_thoughts
        thought_ids += [self.config.end_latent_token_id]
        thought_ids = torch.tensor(thought_ids, device=input_ids.device).expand(input_ids.shape[0], -1)
        input_ids = torch.cat([input_ids, thought_ids], dim=1)
        if attention_mask is not None:
            attention_mask = torch.cat([attention_mask, torch.ones_like(thought_ids)], dim=1)
        return input_ids, attention_mask

    @torch.no_grad()
    def inspect_thoughts(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        num_latent_thoughts: int | None = None,
        top_k: int = 5,
        tokenizer: PreTrainedTokenizerBase | None = None,
        step_decoder: PreTrainedModel | str | None = None,
        max_step_tokens: int = 32,
    ) -> ThoughtInspectionOutput:
        r"""
        The vocabulary tokens nearest to each continuous thought that `generate` would run for these questions
        (left-padded, without Coconut tokens). Thought `i` is the last hidden state fed back as the input embedding
        of the `i`-th `<|latent|>`: already the final norm's output, so its logit lens is the LM head alone (the
        model's own next-token distribution at the position before the latent). Also ranks the input embedding rows
        by cosine similarity; `tokenizer` decodes both. With `step_decoder` (a SIM-CoT run's saved `step_decoder/`
        folder, or a loaded decoder of the same width), also the text it writes from each group of `c_thought`
        thoughts (`step_ids`, `step_texts`; at most `max_step_tokens` each). Returns a [`ThoughtInspectionOutput`]
        whose tensors have shape (batch, num_latent_thoughts, top_k).
        """
        self._check_token_ids()
        prompt_len = input_ids.shape[1]
        input_ids, attention_mask = self._append_thought_tokens(input_ids, attention_mask, num_latent_thoughts)
        num_thoughts = input_ids.shape[1] - prompt_len - 2
        if num_thoughts == 0:
            raise ValueError("There are no continuous thoughts to inspect: pass num_latent_thoughts of 1 or more.")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        check_padding_has_mask(input_ids, attention_mask, self.config.get_text_config(), "language model")
        outputs = self._forward_latents(
            self.get_input_embeddings()(input_ids),
            input_ids == self.config.latent_token_id,
            attention_mask,
            position_ids_from_attention_mask(attention_mask, input_ids.shape[1]),
            cache=None,
            use_cache=False,
        )
        # The i-th latent sits at column prompt_len + 1 + i; its thought is the state of the column before it.
        thoughts = outputs.last_hidden_state[:, prompt_len : prompt_len + num_thoughts]
        inspection = inspect_thought_vectors(thoughts, self.language_model, top_k, tokenizer, apply_final_norm=False)
        if step_decoder is not None:
            decoder, projection = (
                (step_decoder, None) if isinstance(step_decoder, torch.nn.Module) else load_step_decoder(step_decoder)
            )
            ids = decode_thought_steps(thoughts, self.config.c_thought, decoder, projection, max_step_tokens)
            inspection.step_ids = ids
            if tokenizer is not None:
                inspection.step_texts = [[tokenizer.decode(step) for step in question] for question in ids]
        return inspection

    def generate(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        num_latent_thoughts: int | None = None,
        **generate_kwargs,
    ) -> torch.LongTensor:
        r"""
        Answers questions after `num_latent_thoughts` continuous thoughts.

        Appends `<|start-latent|>`, `num_latent_thoughts` `<|latent|>` and `<|end-latent|>` to each question and hands
        the sequences to [`~GenerationMixin.generate`]: its prefill runs the thoughts (one cached step each, see
        `forward`), then the answer is decoded from the same cache. Greedy search, sampling, beam search,
        `num_return_sequences`, stopping criteria and streamers work as for any LM (`generate` repeats the questions
        before the prefill, so each returned sequence has its own cache rows).

        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, prompt_len)`):
                Questions, left-padded, without Coconut tokens.
            attention_mask (`torch.Tensor` of shape `(batch_size, prompt_len)`, *optional*):
                1 for tokens, 0 for padding.
            num_latent_thoughts (`int`, *optional*):
                Continuous thoughts to run; defaults to `config.num_latent_thoughts`.

        Returns:
            `torch.LongTensor` of shape `(batch_size * num_return_sequences, prompt_len + num_latent_thoughts + 2 +
            answer_len)`: the question, `<|start-latent|>`, the latent ids, `<|end-latent|>` and the answer (or what
            `GenerationMixin.generate` returns for `return_dict_in_generate=True`).
        """
        self._check_token_ids()
        input_ids, attention_mask = self._append_thought_tokens(input_ids, attention_mask, num_latent_thoughts)
        self._generating = True  # its decoding steps read a generated <|latent|> as an ordinary token
        try:
            return super().generate(input_ids=input_ids, attention_mask=attention_mask, **generate_kwargs)
        finally:
            self._generating = False


CoconutForCausalLM.register_for_auto_class("AutoModelForCausalLM")

__all__ = ["CoconutCausalLMOutputWithPast", "CoconutPreTrainedModel", "CoconutForCausalLM", "gather_thoughts"]
