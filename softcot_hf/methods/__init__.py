"""The methods of the SoftCoT and Coconut papers' tables, one module each (PEFT's one-folder-per-tuner shape).

A method module holds everything that makes the method: how its model is built and its data laid out, how it trains,
how its artifact is loaded and prompted for evaluation. The harness, report, CLI, quickstart and training pipelines
take a method object from `get_method(name)`, or from training arguments with `method_for(args)`. A new method is one
new module and one entry in `METHODS`; when it trains, also one entry in `TRAINED_METHODS` and, with options of its
own, its arguments dataclass, both in `softcot_hf.training.method_arguments` (light: the command line reads them
without importing torch).
"""

import json
from pathlib import Path

from .assist_cot import AssistCoT
from .base import CurriculumMethod, FrozenModelMethod, Method
from .coconut import Coconut
from .codi import Codi
from .cot import CoT
from .cot_unk import CoTUnk
from .icot_si import IcotSi
from .lora import LoRA
from .no_cot import NoCoT
from .no_thoughts import NoThoughts
from .simcot import SimCoT
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
        SimCoT(),
        IcotSi(),
        Codi(),
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


def method_for(args) -> Method:
    """The method that training arguments `args` name (`args.method`), checked to be trained with `type(args)`."""
    method = get_method(args.method)
    if method.arguments is None:
        raise ValueError(f"{method.name} is evaluated as it is; it has nothing to train.")
    if type(args) is not method.arguments:
        raise TypeError(
            f"{method.name} trains with {method.arguments.__name__}, not {type(args).__name__}: build "
            f"{method.arguments.__name__}(method={method.name!r}, ...)."
        )
    return method


def check_artifact(method: str | Method, name_or_path: str | Path) -> None:
    """Refuse a local folder that holds another method's artifact (its config.json's `model_type` says whose),
    naming the methods that evaluate it (`EvaluationArguments` checks its `model` with this)."""
    method = get_method(method)
    try:
        model_type = json.loads((Path(name_or_path) / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):  # a Hub id, an adapter folder, a broken config: the loader says
        return
    owners = [other.name for other in METHODS.values() if other.artifact_model_type == model_type]
    if method.name in owners or (not owners and method.artifact_model_type is None):
        return
    fix = f"evaluate it with --method {' or '.join(owners)}" if owners else f"pass {method.artifact_hint}"
    raise ValueError(f"{name_or_path} holds a {model_type!r} model, not a {method.name} artifact: {fix}.")


def trained_methods() -> list[str]:
    """Names of the methods that train an artifact (`softcot-hf train METHOD`)."""
    return [name for name, method in METHODS.items() if method.arguments is not None]


__all__ = [
    "METHODS",
    "CurriculumMethod",
    "FrozenModelMethod",
    "Method",
    "check_artifact",
    "get_method",
    "method_for",
    "trained_methods",
]
