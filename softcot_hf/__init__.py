"""softcot-hf: latent (soft) chain-of-thought reasoning as ordinary Hugging Face models."""

from transformers import AutoConfig, AutoModelForCausalLM, AutoProcessor

from .modeling import SoftCoTConfig, SoftCoTForCausalLM, select_thought_tokens
from .processing_softcot import SoftCoTProcessor

AutoConfig.register("softcot", SoftCoTConfig)
AutoModelForCausalLM.register(SoftCoTConfig, SoftCoTForCausalLM)
AutoProcessor.register(SoftCoTConfig, SoftCoTProcessor)

__version__ = "0.1.0"

__all__ = ["SoftCoTConfig", "SoftCoTForCausalLM", "SoftCoTProcessor", "select_thought_tokens"]
