"""The models. Self-contained (torch + transformers only), so the files also travel to the Hub as remote code."""

from .configuration_coconut import CoconutConfig
from .configuration_cot_unk import CoTUnkConfig
from .configuration_softcot import SoftCoTConfig
from .modeling_coconut import CoconutForCausalLM, CoconutPreTrainedModel
from .modeling_cot_unk import CoTUnkForCausalLM, CoTUnkPreTrainedModel
from .modeling_softcot import SoftCoTForCausalLM, SoftCoTPreTrainedModel, SoftCoTTextGenerationPipeline
from .processing_softcot import SoftCoTProcessor
from .thought_tokens import ThoughtTokens, select_thought_tokens

__all__ = [
    "CoconutConfig",
    "CoconutForCausalLM",
    "CoconutPreTrainedModel",
    "CoTUnkConfig",
    "CoTUnkForCausalLM",
    "CoTUnkPreTrainedModel",
    "SoftCoTConfig",
    "SoftCoTForCausalLM",
    "SoftCoTPreTrainedModel",
    "SoftCoTProcessor",
    "SoftCoTTextGenerationPipeline",
    "ThoughtTokens",
    "select_thought_tokens",
]
