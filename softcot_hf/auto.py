"""Registers the package's configs, models and processors with transformers' Auto classes. Import it before
`AutoConfig` / `AutoModelForCausalLM` / `AutoProcessor.from_pretrained` of a saved SoftCoT, CoT-Unk or Coconut folder;
`import softcot_hf` alone stays light, and its public names import this module on first use."""

from transformers import AutoConfig, AutoModelForCausalLM, AutoProcessor

from .modeling import (
    CoconutConfig,
    CoconutForCausalLM,
    CoTUnkConfig,
    CoTUnkForCausalLM,
    SoftCoTConfig,
    SoftCoTForCausalLM,
)
from .processing_softcot import SoftCoTProcessor

AutoConfig.register("softcot", SoftCoTConfig, exist_ok=True)
AutoModelForCausalLM.register(SoftCoTConfig, SoftCoTForCausalLM, exist_ok=True)
AutoProcessor.register(SoftCoTConfig, SoftCoTProcessor, exist_ok=True)
AutoConfig.register("coconut", CoconutConfig, exist_ok=True)
AutoModelForCausalLM.register(CoconutConfig, CoconutForCausalLM, exist_ok=True)
AutoConfig.register("cot_unk", CoTUnkConfig, exist_ok=True)
AutoModelForCausalLM.register(CoTUnkConfig, CoTUnkForCausalLM, exist_ok=True)
AutoProcessor.register(CoTUnkConfig, SoftCoTProcessor, exist_ok=True)
