"""SoftCoT model configuration."""

import copy
from typing import Literal

from transformers import AutoConfig, PreTrainedConfig

from .compat import sub_config

PROJECTION_TYPES = ("linear", "mlp")
# `pipeline("text-generation", model=FOLDER, trust_remote_code=True)` reads this from config.json and loads the
# pipeline that gives the backbone soft thoughts (the shape `Pipeline.save_pretrained` writes).
CUSTOM_PIPELINES = {
    "text-generation": {
        "impl": "pipeline_softcot.SoftCoTTextGenerationPipeline",
        "pt": ["AutoModelForCausalLM"],
        "type": "text",
    }
}


class SoftCoTConfig(PreTrainedConfig):
    r"""
    Configuration of a [`SoftCoTForCausalLM`]: a frozen assistant LM, a frozen backbone LM and the trainable projection
    between them. The two frozen models are *referenced* (by Hub id or path), never copied into the checkpoint.

    Args:
        assistant_model_name_or_path (`str`, *optional*):
            Hub id or local path of the small frozen assistant that writes the soft thoughts.
        backbone_model_name_or_path (`str`, *optional*):
            Hub id or local path of the large frozen backbone that reads them and generates the answer.
        assistant_revision / backbone_revision (`str`, *optional*):
            Branch, tag or commit of each frozen model's repo to load (default: its main branch). Pin a commit to
            keep a published projection tied to the exact weights it was trained with.
        assistant_config (`dict` or `PreTrainedConfig`, *optional*):
            The assistant's config (its hidden size sets the projection's input size).
        text_config (`dict` or `PreTrainedConfig`, *optional*):
            The backbone's config. It is called `text_config` because `generate()` builds its cache from
            `config.get_text_config()`.
        num_thought_tokens (`int`, defaults to 4):
            N, the number of soft thoughts per example.
        assistant_placeholder_token_id (`int`, *optional*):
            Token the assistant reads at the N positions whose last-layer states become the thoughts.
        thought_token_id (`int`, *optional*):
            Backbone slot token whose N embeddings are replaced by the projected thoughts. It may lie outside the
            backbone's embedding table: slot positions are never looked up.
        thought_start_token_id / thought_end_token_id (`int`, *optional*):
            Backbone markers around the slots (informational; the processor writes them into prompts).
        projection_type (`"linear"` or `"mlp"`, defaults to `"linear"`):
            `"linear"` is the paper's `nn.Linear(d_assistant, d_backbone)`; `"mlp"` is Linear-GELU-Linear.
        projection_hidden_size (`int`, *optional*):
            Width of the MLP's hidden layer; defaults to the backbone's hidden size.
        num_thought_sets (`int`, defaults to 1):
            M, SoftCoT++'s soft-thought sets per question (`thought_sets.py`): each set gives the assistant's
            placeholders its own initial embedding, and the backbone generates once per set. 1 is SoftCoT, and then
            the key is not written to config.json.
    """

    model_type = "softcot"
    sub_configs = {"assistant_config": AutoConfig, "text_config": AutoConfig}

    assistant_model_name_or_path: str | None = None
    backbone_model_name_or_path: str | None = None
    assistant_revision: str | None = None
    backbone_revision: str | None = None
    assistant_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    num_thought_tokens: int = 4
    assistant_placeholder_token_id: int | None = None
    thought_token_id: int | None = None
    thought_start_token_id: int | None = None
    thought_end_token_id: int | None = None
    projection_type: Literal["linear", "mlp"] = "linear"
    projection_hidden_size: int | None = None
    num_thought_sets: int = 1
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        self.assistant_config = sub_config(self.assistant_config, default_model_type="llama")
        self.text_config = sub_config(self.text_config, default_model_type="llama")
        if self.projection_type not in PROJECTION_TYPES:
            raise ValueError(
                f"Unknown projection_type {self.projection_type!r}: use one of {PROJECTION_TYPES} "
                "('linear' is the paper's nn.Linear, 'mlp' is Linear-GELU-Linear)."
            )
        if self.num_thought_tokens < 1:
            raise ValueError(f"num_thought_tokens must be at least 1, got {self.num_thought_tokens}.")
        if self.num_thought_sets < 1:
            raise ValueError(f"num_thought_sets must be at least 1 (1: SoftCoT), got {self.num_thought_sets}.")
        super().__post_init__(**kwargs)
        self.custom_pipelines = copy.deepcopy(CUSTOM_PIPELINES)

    def to_dict(self) -> dict:
        """As usual, without `num_thought_sets` when it is 1: a SoftCoT config.json stays exactly what it was."""
        output = super().to_dict()
        if output.get("num_thought_sets") == 1:
            del output["num_thought_sets"]
        return output


SoftCoTConfig.register_for_auto_class()

__all__ = ["SoftCoTConfig"]
