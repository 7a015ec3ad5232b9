"""softcot-hf: latent (soft) chain-of-thought reasoning as ordinary Hugging Face models."""

from transformers import AutoConfig, AutoModelForCausalLM, AutoProcessor

from .modeling import (
    CoconutConfig,
    CoconutForCausalLM,
    CoTUnkConfig,
    CoTUnkForCausalLM,
    SoftCoTConfig,
    SoftCoTForCausalLM,
    SoftCoTTextGenerationPipeline,
    select_thought_tokens,
)
from .processing_softcot import SoftCoTProcessor

AutoConfig.register("softcot", SoftCoTConfig)
AutoModelForCausalLM.register(SoftCoTConfig, SoftCoTForCausalLM)
AutoProcessor.register(SoftCoTConfig, SoftCoTProcessor)
AutoConfig.register("coconut", CoconutConfig)
AutoModelForCausalLM.register(CoconutConfig, CoconutForCausalLM)
AutoConfig.register("cot_unk", CoTUnkConfig)
AutoModelForCausalLM.register(CoTUnkConfig, CoTUnkForCausalLM)
AutoProcessor.register(CoTUnkConfig, SoftCoTProcessor)

__version__ = "0.1.0"

__all__ = [
    "CoconutConfig",
    "CoconutForCausalLM",
    "CoTUnkConfig",
    "CoTUnkForCausalLM",
    "SoftCoTConfig",
    "SoftCoTForCausalLM",
    "SoftCoTProcessor",
    "SoftCoTTextGenerationPipeline",
    "select_thought_tokens",
]
