"""Coconut model configuration."""

from transformers import AutoConfig, PreTrainedConfig

from .compat import sub_config

LATENT_PROJECTIONS = (None, "mlp")


class CoconutConfig(PreTrainedConfig):
    r"""
    Configuration of a [`CoconutForCausalLM`]: a causal LM that reasons in *continuous thoughts* (Hao et al., "Training
    Large Language Models to Reason in a Continuous Latent Space", arXiv 2412.06769). Every `<|latent|>` position takes
    as input embedding the last hidden state of the position before it instead of a token embedding.

    Args:
        text_config (`dict` or `PreTrainedConfig`, *optional*):
            Config of the wrapped causal LM (defaults to GPT-2, the paper's base model). Its vocabulary must contain
            the three Coconut tokens (see [`CoconutForCausalLM.from_base`]).
        start_latent_token_id (`int`, *optional*):
            Id of `<|start-latent|>` (the paper's `<bot>`), the token that opens the continuous thoughts.
        end_latent_token_id (`int`, *optional*):
            Id of `<|end-latent|>` (the paper's `<eot>`), the token that closes them; the answer follows it.
        latent_token_id (`int`, *optional*):
            Id of `<|latent|>`, the placeholder of one continuous thought.
        c_thought (`int`, *optional*, defaults to 1):
            Continuous thoughts that replace one reasoning step in the training curriculum (the paper's `c`).
        max_latent_stage (`int`, *optional*, defaults to 6):
            Last curriculum stage: at most `max_latent_stage` reasoning steps are replaced by latent thoughts.
        num_latent_thoughts (`int`, *optional*):
            Continuous thoughts that `generate()` runs when none are given; `None` means `c_thought *
            max_latent_stage`, the number the last curriculum stage trains.
        latent_projection (`str`, *optional*):
            What the last hidden state goes through before it is fed back as a thought's input embedding: `None`
            (as it is, Coconut) or `"mlp"` (CODI's two-layer MLP with a LayerNorm, see `LatentProjection`).

    Example:

    ```python
    >>> from transformers import AutoTokenizer
    >>> from softcot_hf import CoconutForCausalLM

    >>> tokenizer = AutoTokenizer.from_pretrained("openai-community/gpt2")
    >>> model = CoconutForCausalLM.from_base("openai-community/gpt2", tokenizer, c_thought=2, max_latent_stage=3)
    >>> model.config.num_latent_thoughts
    6
    ```"""

    model_type = "coconut"
    sub_configs = {"text_config": AutoConfig}

    text_config: dict | PreTrainedConfig | None = None
    start_latent_token_id: int | None = None
    end_latent_token_id: int | None = None
    latent_token_id: int | None = None
    c_thought: int = 1
    max_latent_stage: int = 6
    num_latent_thoughts: int | None = None
    latent_projection: str | None = None

    def __post_init__(self, **kwargs):
        self.text_config = sub_config(self.text_config, default_model_type="gpt2")
        super().__post_init__(**kwargs)
        if self.c_thought < 1 or self.max_latent_stage < 0 or (self.num_latent_thoughts or 0) < 0:
            raise ValueError(
                "Need c_thought >= 1, max_latent_stage >= 0 and num_latent_thoughts >= 0; got "
                f"c_thought={self.c_thought}, max_latent_stage={self.max_latent_stage}, "
                f"num_latent_thoughts={self.num_latent_thoughts}."
            )
        if self.latent_projection not in LATENT_PROJECTIONS:
            raise ValueError(
                f"latent_projection={self.latent_projection!r}: choose one of {LATENT_PROJECTIONS} (None feeds the "
                'hidden state back as it is, "mlp" through the MLP + LayerNorm of CODI).'
            )
        if self.num_latent_thoughts is None:
            self.num_latent_thoughts = self.c_thought * self.max_latent_stage


CoconutConfig.register_for_auto_class()

__all__ = ["LATENT_PROJECTIONS", "CoconutConfig"]
