"""Zero-Shot CoT-Unk configuration: N trainable embeddings in a frozen backbone's thought slots, no assistant."""

from transformers import AutoConfig, PreTrainedConfig

from .compat import sub_config


class CoTUnkConfig(PreTrainedConfig):
    r"""
    Configuration of a [`CoTUnkForCausalLM`]: a frozen backbone LM whose N thought slots hold N trainable embeddings
    (the SoftCoT paper's "Zero-Shot CoT-Unk" baseline: SoftCoT's prompt and slots, but no assistant). The backbone is
    *referenced* (by Hub id or path), never copied into the checkpoint.

    Args:
        backbone_model_name_or_path (`str`, *optional*):
            Hub id or local path of the frozen backbone.
        backbone_revision (`str`, *optional*):
            Branch, tag or commit of the backbone's repo to load (default: its main branch).
        text_config (`dict` or `PreTrainedConfig`, *optional*):
            The backbone's config (its hidden size is the embeddings' width). Called `text_config` because `generate()`
            builds its cache from `config.get_text_config()`.
        num_thought_tokens (`int`, defaults to 4):
            N, the number of slots (and of trainable embeddings).
        thought_token_id (`int`, *optional*):
            Backbone slot token whose N embeddings are replaced by the trainable ones. It may lie outside the
            backbone's embedding table: slot positions are never looked up.
        thought_start_token_id / thought_end_token_id (`int`, *optional*):
            Backbone markers around the slots (informational; the processor writes them into prompts).
    """

    model_type = "cot_unk"
    sub_configs = {"text_config": AutoConfig}

    backbone_model_name_or_path: str | None = None
    backbone_revision: str | None = None
    text_config: dict | PreTrainedConfig | None = None
    num_thought_tokens: int = 4
    thought_token_id: int | None = None
    thought_start_token_id: int | None = None
    thought_end_token_id: int | None = None
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        self.text_config = sub_config(self.text_config, default_model_type="llama")
        if self.num_thought_tokens < 1:
            raise ValueError(f"num_thought_tokens must be at least 1, got {self.num_thought_tokens}.")
        super().__post_init__(**kwargs)


CoTUnkConfig.register_for_auto_class()

__all__ = ["CoTUnkConfig"]
