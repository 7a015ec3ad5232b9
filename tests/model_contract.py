"""
The contract every model of this package keeps, in the spirit of transformers' `ModelTesterMixin`: save/reload,
batched against one-by-one (left padding), cached against uncached, and the generate modes. A test class per model
inherits `ModelContract` and says how to build its tiny model (`build`) and how its users encode questions
(`encode`, `forward_inputs`). Tiny fp32 models on CPU: logits equal within `ATOL`, tokens exactly.
"""

import pytest
import torch
from conftest import QUESTIONS
from transformers import AutoModelForCausalLM

ATOL = 1e-5


def strip_after_eos(tokens: list[int], eos_ids: set[int]) -> list[int]:
    """`tokens` up to and including the first EOS: a batched row goes on with padding after it."""
    for index, token in enumerate(tokens):
        if token in eos_ids:
            return tokens[: index + 1]
    return tokens


class ModelContract:
    """Subclasses set `build(pair_dirs) -> (model, processor)` and `encode(processor, questions) -> inputs` (the
    processor is whatever encodes questions: `SoftCoTProcessor`, a tokenizer); `forward_inputs` (default: `encode`)
    are the inputs a forward pass reads (Coconut's hold the latent thoughts its `generate` adds itself)."""

    max_new_tokens = 4

    def build(self, pair_dirs) -> tuple[torch.nn.Module, object]:
        raise NotImplementedError

    def encode(self, processor, questions: list[str]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def forward_inputs(self, model, processor, questions: list[str]) -> dict[str, torch.Tensor]:
        return self.encode(processor, questions)

    def generate_kwargs(self, processor) -> dict:
        """Arguments every `generate` of the contract passes besides the inputs (greedy unless overridden)."""
        return {"max_new_tokens": self.max_new_tokens, "do_sample": False}

    @pytest.fixture(scope="class")
    def built(self, pair_dirs):
        model, processor = self.build(pair_dirs)
        return model.eval(), processor

    def generate(self, built, questions: list[str], **kwargs) -> list[list[int]]:
        """The new tokens of each output row."""
        model, processor = built
        inputs = self.encode(processor, questions)
        sequences = model.generate(**inputs, **(self.generate_kwargs(processor) | kwargs))
        return sequences[:, inputs["input_ids"].shape[1] :].tolist()

    def eos_ids(self, model) -> set[int]:
        eos = model.generation_config.eos_token_id
        return set(eos if isinstance(eos, list) else [eos])

    def test_save_and_reload_give_identical_logits_and_generations(self, built, tmp_path):
        model, processor = built
        model.save_pretrained(tmp_path)
        reloaded = AutoModelForCausalLM.from_pretrained(tmp_path)
        assert type(reloaded) is type(model) and not reloaded.training
        inputs = self.forward_inputs(model, processor, QUESTIONS)
        with torch.no_grad():
            torch.testing.assert_close(reloaded(**inputs).logits, model(**inputs).logits, atol=0, rtol=0)
        assert self.generate((reloaded, processor), QUESTIONS) == self.generate(built, QUESTIONS)

    def test_batched_left_padded_forward_equals_one_by_one(self, built):
        model, processor = built
        with torch.no_grad():
            batched = model(**self.forward_inputs(model, processor, QUESTIONS)).logits
            for row, question in enumerate(QUESTIONS):
                alone = model(**self.forward_inputs(model, processor, [question])).logits[0]
                torch.testing.assert_close(batched[row, -alone.shape[0] :], alone, atol=ATOL, rtol=0)

    def test_batched_left_padded_generation_equals_one_by_one(self, built):
        batched = self.generate(built, QUESTIONS)
        eos_ids = self.eos_ids(built[0])
        for row, question in enumerate(QUESTIONS):
            assert strip_after_eos(batched[row], eos_ids) == self.generate(built, [question])[0]

    def test_cached_generation_equals_uncached(self, built):
        assert self.generate(built, QUESTIONS) == self.generate(built, QUESTIONS, use_cache=False)

    def test_sampling_with_a_seed_repeats_and_returns_each_sequence(self, built):
        def sample() -> list[list[int]]:
            torch.manual_seed(0)
            return self.generate(built, QUESTIONS[:2], do_sample=True, top_k=0, num_return_sequences=3)

        first = sample()
        assert len(first) == 6 and first == sample()

    def test_beam_search_returns_each_prompts_beams_in_order_as_one_by_one(self, built):
        beams = {"num_beams": 2, "num_return_sequences": 2}
        batched = self.generate(built, QUESTIONS[:2], **beams)
        eos_ids = self.eos_ids(built[0])
        assert len(batched) == 4
        for index, question in enumerate(QUESTIONS[:2]):
            alone = [strip_after_eos(row, eos_ids) for row in self.generate(built, [question], **beams)]
            assert [strip_after_eos(row, eos_ids) for row in batched[2 * index : 2 * index + 2]] == alone


__all__ = ["ATOL", "ModelContract", "strip_after_eos"]


class CoconutContract(ModelContract):
    """The contract's inputs for a `CoconutForCausalLM` (subclasses give `build`): the questions, left-padded."""

    def encode(self, tokenizer, questions):
        return tokenizer(questions, return_tensors="pt", padding=True)

    def forward_inputs(self, model, tokenizer, questions):
        """The questions followed by `<|start-latent|>`, two latents and `<|end-latent|>`: the forward fills them."""
        config = model.config
        thoughts = [config.start_latent_token_id, config.latent_token_id, config.latent_token_id]
        rows = [tokenizer(question)["input_ids"] + thoughts + [config.end_latent_token_id] for question in questions]
        return tokenizer.pad({"input_ids": rows}, return_tensors="pt")

    def generate_kwargs(self, tokenizer):
        return super().generate_kwargs(tokenizer) | {"pad_token_id": tokenizer.pad_token_id}
