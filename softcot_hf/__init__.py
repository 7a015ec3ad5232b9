"""softcot-hf: latent (soft) chain-of-thought reasoning as ordinary Hugging Face models.

`import softcot_hf` imports neither torch nor transformers: the public names below load on first use (PEP 562), and
with them `softcot_hf.auto`, which registers the models with transformers' Auto classes.
"""

from importlib import import_module, metadata

try:
    __version__ = metadata.version("softcot-hf")
except metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.1.0"

# Public name -> the module that defines it.
_LAZY = {
    "CoconutConfig": "softcot_hf.modeling",
    "CoconutForCausalLM": "softcot_hf.modeling",
    "CoTUnkConfig": "softcot_hf.modeling",
    "CoTUnkForCausalLM": "softcot_hf.modeling",
    "SoftCoTConfig": "softcot_hf.modeling",
    "SoftCoTForCausalLM": "softcot_hf.modeling",
    "SoftCoTTextGenerationPipeline": "softcot_hf.modeling",
    "select_thought_tokens": "softcot_hf.modeling",
    "SoftCoTProcessor": "softcot_hf.processing_softcot",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'softcot_hf' has no attribute {name!r}")
    import_module("softcot_hf.auto")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = sorted(_LAZY)
