"""The SoftCoT processor. It lives in `modeling/` (installed as `softcot_hf.modeling`) because it travels with every
checkpoint as remote code; this module is its public import path."""

from .modeling.processing_softcot import (
    ASSISTANT_TEMPLATE_FIELDS,
    BACKBONE_TEMPLATE_FIELDS,
    DEFAULT_ASSISTANT_TEMPLATE,
    DEFAULT_BACKBONE_TEMPLATE,
    SoftCoTProcessor,
    check_template,
    left_pad,
    render_prompt_ids,
)

__all__ = [
    "ASSISTANT_TEMPLATE_FIELDS",
    "BACKBONE_TEMPLATE_FIELDS",
    "DEFAULT_ASSISTANT_TEMPLATE",
    "DEFAULT_BACKBONE_TEMPLATE",
    "SoftCoTProcessor",
    "check_template",
    "left_pad",
    "render_prompt_ids",
]
