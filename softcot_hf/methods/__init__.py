"""The methods of the SoftCoT and Coconut papers' tables, one module each (PEFT's one-folder-per-tuner shape).

A method module holds everything that makes the method: its training arguments, how its model is built and its data
laid out, how its artifact is loaded and prompted for evaluation. The harness, report, CLI, quickstart and training
pipelines take a method object from `get_method(name)`. A new method is one new module and one entry in `METHODS`.
"""

from .assist_cot import AssistCoT
from .base import CurriculumMethod, FrozenModelMethod, Method
from .coconut import Coconut
from .cot import CoT
from .cot_unk import CoTUnk
from .lora import LoRA
from .no_cot import NoCoT
from .no_thoughts import NoThoughts
from .softcot import SoftCoT
from .softcotpp import SoftCoTPP
from .zero_shot_cot import ZeroShotCoT

# In the papers' table order (Coconut paper's baselines first, SoftCoT last): reports list rows in this order.
METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        NoCoT(),
        CoT(),
        ZeroShotCoT(),
        CoTUnk(),
        AssistCoT(),
        LoRA(),
        NoThoughts(),
        Coconut(),
        SoftCoT(),
        SoftCoTPP(),
    )
}


def get_method(name: str | Method) -> Method:
    """The method called `name` (a `Method` passes through)."""
    if isinstance(name, Method):
        return name
    if name not in METHODS:
        raise ValueError(f"Unknown method {name!r}; choose one of {', '.join(METHODS)}.")
    return METHODS[name]


def trained_methods() -> list[str]:
    """Names of the methods that train an artifact (`softcot-hf train METHOD`)."""
    return [name for name, method in METHODS.items() if method.arguments is not None]


__all__ = ["METHODS", "CurriculumMethod", "FrozenModelMethod", "Method", "get_method", "trained_methods"]
