"""N at evaluation independent of N at training: `from_pretrained(..., num_thought_tokens=)` and `softcot-hf eval
--num-thought-tokens`, with the processor following the model's config."""

import pytest
import torch

from softcot_hf import SoftCoTForCausalLM, SoftCoTProcessor
from softcot_hf.evaluation import run_evaluation
from softcot_hf.evaluation.arguments import EvaluationArguments
from softcot_hf.methods import get_method
from softcot_hf.quickstart import shipped_models


@pytest.fixture(scope="module")
def trained_with_four(tmp_path_factory):
    """A SoftCoT folder (projection seeded, N = 4) on the shipped tiny pair."""
    pair = shipped_models()
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("softcot-n4")
    model = SoftCoTForCausalLM.from_assistant_and_backbone(
        str(pair / "assistant"), str(pair / "backbone"), num_thought_tokens=4
    )
    processor = SoftCoTProcessor.from_assistant_and_backbone(
        pair / "assistant", pair / "backbone", num_thought_tokens=4
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_another_n_at_load_time(trained_with_four):
    model, processor = get_method("softcot").load_artifact(trained_with_four, {"num_thought_tokens": 2})
    assert model.config.num_thought_tokens == processor.num_thought_tokens == 2
    inputs = processor(["start with 3 , add 4 . what is the result ?"])
    assert (inputs["input_ids"] == processor.thought_tokens.backbone_slot_id).sum() == 2
    model.generate(**inputs, max_new_tokens=2, do_sample=False)
    model, processor = get_method("softcot").load_artifact(trained_with_four, {})
    assert model.config.num_thought_tokens == processor.num_thought_tokens == 4
    with pytest.raises(ValueError, match="at least 1"):
        SoftCoTForCausalLM.from_pretrained(trained_with_four, num_thought_tokens=0)


def test_another_n_at_evaluation(trained_with_four, tmp_path):
    summary = run_evaluation(
        "synthetic_arithmetic", "softcot", str(trained_with_four), limit=2, max_new_tokens=3, num_thought_tokens=8
    )
    assert summary["settings"]["num_thought_tokens"] == 8
    default = run_evaluation("synthetic_arithmetic", "softcot", str(trained_with_four), limit=2, max_new_tokens=3)
    assert default["settings"]["num_thought_tokens"] == 4
    with pytest.raises(ValueError, match="fixes N in training"):
        EvaluationArguments(task="gsm8k", method="cot_unk", model="x", num_thought_tokens=8)
