"""The models where users already are: `pipeline("text-generation")`, `Trainer(processing_class=...)`, and a saved
folder loaded without this package (model, processor and pipeline as remote code)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import QUESTIONS, build
from tiny import make_lm, make_tokenizer
from transformers import AutoProcessor, Trainer, TrainingArguments, pipeline

from softcot_hf import CoconutForCausalLM, CoTUnkForCausalLM, SoftCoTProcessor, SoftCoTTextGenerationPipeline
from softcot_hf.data.prompts import WITH_THOUGHTS, build_prompt
from softcot_hf.processing_softcot import DEFAULT_BACKBONE_TEMPLATE
from softcot_hf.training.softcot_data import collator_for, tokenize_with_processor

GENERATE = {"max_new_tokens": 6, "do_sample": False}


@pytest.fixture(scope="module")
def softcot_dir(pair_dirs, tmp_path_factory) -> Path:
    model, processor = build(pair_dirs)
    folder = tmp_path_factory.mktemp("softcot")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def coconut_dir(tmp_path_factory) -> Path:
    tokenizer = make_tokenizer("plain")
    model = CoconutForCausalLM.from_base(make_lm("plain", len(tokenizer), 32, seed=7), tokenizer, c_thought=1)
    folder = tmp_path_factory.mktemp("coconut")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def softcot_generate(model, processor, questions: list[str]) -> list[str]:
    inputs = processor(questions)
    output = model.generate(**inputs, **GENERATE)
    return processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def texts(results) -> list[str]:
    return [result[0]["generated_text"] for result in results]


def test_softcot_pipeline_from_a_folder_batched_equals_generate(softcot_dir):
    pipe = pipeline("text-generation", model=str(softcot_dir), trust_remote_code=True)
    assert type(pipe).__name__ == "SoftCoTTextGenerationPipeline"
    expected = softcot_generate(pipe.model, AutoProcessor.from_pretrained(softcot_dir), QUESTIONS)
    assert texts(pipe(QUESTIONS, batch_size=3, return_full_text=False, **GENERATE)) == expected
    assert texts(pipe(QUESTIONS[:1], return_full_text=False, **GENERATE)) == expected[:1]


def test_softcot_pipeline_from_a_model_object(pair_dirs):
    model, processor = build(pair_dirs)
    pipe = pipeline("text-generation", model=model, processor=processor, pipeline_class=SoftCoTTextGenerationPipeline)
    results = pipe(QUESTIONS, batch_size=2, return_full_text=False, **GENERATE)
    assert texts(results) == softcot_generate(model, processor, QUESTIONS)


def test_softcot_never_runs_without_thoughts(softcot_dir, pair_dirs):
    with pytest.raises(ValueError, match="trust_remote_code=True"):
        pipeline("text-generation", model=str(softcot_dir))
    model, processor = build(pair_dirs)
    plain = pipeline("text-generation", model=model, tokenizer=processor.backbone_tokenizer)
    with pytest.raises(ValueError, match="without soft thoughts.*pipeline_class=SoftCoTTextGenerationPipeline"):
        plain(QUESTIONS[0], **GENERATE)


def test_coconut_pipeline_batched_equals_generate(coconut_dir):
    pipe = pipeline("text-generation", model=str(coconut_dir))
    tokenizer, model = pipe.tokenizer, pipe.model
    inputs = tokenizer(QUESTIONS, return_tensors="pt", padding=True)
    output = model.generate(**inputs, **GENERATE)
    expected = tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert texts(pipe(QUESTIONS, batch_size=3, return_full_text=False, **GENERATE)) == expected


def test_coconut_from_base_sets_a_missing_pad_token():
    tokenizer = make_tokenizer("llama")
    tokenizer.pad_token = None
    model = CoconutForCausalLM.from_base(make_lm("llama", len(tokenizer), 32, seed=1), tokenizer)
    assert tokenizer.pad_token == tokenizer.eos_token
    assert model.generation_config.pad_token_id == tokenizer.eos_token_id


def test_trainer_takes_the_processor_and_saves_it(pair_dirs, tmp_path):
    model, processor = build(pair_dirs)
    encoded = tokenize_with_processor(processor, QUESTIONS, ["the answer is 5"] * len(QUESTIONS))
    trainer = Trainer(
        model=model,
        args=TrainingArguments(output_dir=str(tmp_path / "run"), max_steps=1, report_to=[], use_cpu=True),
        train_dataset=encoded,
        data_collator=collator_for(processor, processor.backbone_tokenizer),
        processing_class=processor,
    )
    trainer.train()
    trainer.save_model(str(tmp_path / "saved"))
    reloaded = AutoProcessor.from_pretrained(tmp_path / "saved")
    assert isinstance(reloaded, SoftCoTProcessor)
    assert reloaded(QUESTIONS).input_ids.tolist() == processor(QUESTIONS).input_ids.tolist()


def test_a_processor_sharing_one_tokenizer_saves_and_reloads(pair_dirs, tmp_path):
    _, processor = build(pair_dirs)
    shared = SoftCoTProcessor(processor.backbone_tokenizer, processor.backbone_tokenizer, num_thought_tokens=4)
    shared.save_pretrained(tmp_path)
    assert shared.assistant_tokenizer is shared.backbone_tokenizer
    reloaded = AutoProcessor.from_pretrained(tmp_path)
    assert reloaded(QUESTIONS).input_ids.tolist() == shared(QUESTIONS).input_ids.tolist()


def test_return_tensors_is_honoured_or_rejected(pair_dirs):
    _, processor = build(pair_dirs)
    assert isinstance(processor(QUESTIONS, return_tensors="np")["input_ids"], np.ndarray)
    assert isinstance(processor(QUESTIONS, return_tensors=None)["input_ids"], list)
    assert isinstance(processor(QUESTIONS)["input_ids"], torch.Tensor)
    with pytest.raises(ValueError, match="return_tensors='tf'"):
        processor(QUESTIONS, return_tensors="tf")


def test_the_self_contained_default_template_is_the_prompts_module_one():
    assert DEFAULT_BACKBONE_TEMPLATE == build_prompt("{question}", WITH_THOUGHTS)


# A process where `import softcot_hf` fails: someone who has only torch and transformers. It runs under
# $SOFTCOT_CLEAN_PYTHON when set (CI points it at a fresh virtual environment holding only torch and transformers),
# else under this interpreter with softcot_hf's import blocked.
CLEAN_PYTHON = os.environ.get("SOFTCOT_CLEAN_PYTHON")
WITHOUT_PACKAGE = textwrap.dedent(
    """
    import importlib.abc, importlib.util, json, sys
    extras = [name for name in ("softcot_hf", "peft", "accelerate", "datasets") if importlib.util.find_spec(name)]
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "softcot_hf" or name.startswith("softcot_hf."):
                raise ImportError("softcot_hf is not installed in this process")
    sys.meta_path.insert(0, Block())
    from transformers import AutoModelForCausalLM, AutoProcessor, AutoTokenizer, pipeline
    softcot, coconut, cot_unk, questions = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    codi = sys.argv[5]  # a Coconut folder with CODI's latent projection
    generate = {"max_new_tokens": 6, "do_sample": False}
    processor = AutoProcessor.from_pretrained(softcot, trust_remote_code=True)
    model = AutoModelForCausalLM.from_pretrained(softcot, trust_remote_code=True)
    inputs = processor(questions)
    output = model.generate(**inputs, **generate)
    pipe = pipeline("text-generation", model=softcot, trust_remote_code=True)
    coconut_tokenizer = AutoTokenizer.from_pretrained(coconut, trust_remote_code=True)
    coconut_model = AutoModelForCausalLM.from_pretrained(coconut, trust_remote_code=True)
    coconut_inputs = coconut_tokenizer(questions, return_tensors="pt", padding=True)
    coconut_output = coconut_model.generate(**coconut_inputs, **generate)
    codi_model = AutoModelForCausalLM.from_pretrained(codi, trust_remote_code=True)
    codi_output = codi_model.generate(**coconut_inputs, **generate)
    results = pipe(questions, batch_size=2, return_full_text=False, **generate)
    cot_unk_processor = AutoProcessor.from_pretrained(cot_unk, trust_remote_code=True)
    cot_unk_model = AutoModelForCausalLM.from_pretrained(cot_unk, trust_remote_code=True)
    cot_unk_inputs = cot_unk_processor(questions)
    cot_unk_output = cot_unk_model.generate(**cot_unk_inputs, **generate)
    print(json.dumps({
        "extras": extras,
        "modules": sorted(name for name in sys.modules if name.startswith("softcot_hf")),
        "processor": type(processor).__module__,
        "generate": processor.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True),
        "pipeline": [result[0]["generated_text"] for result in results],
        "coconut": coconut_tokenizer.batch_decode(
            coconut_output[:, coconut_inputs["input_ids"].shape[1]:], skip_special_tokens=True
        ),
        "codi": [type(codi_model.latent_projection).__name__, codi_output.tolist()],
        "cot_unk_processor": type(cot_unk_processor).__module__,
        "cot_unk": cot_unk_processor.batch_decode(
            cot_unk_output[:, cot_unk_inputs["input_ids"].shape[1]:], skip_special_tokens=True
        ),
    }))
    """
)


def test_model_processor_and_pipeline_load_without_the_package(softcot_dir, coconut_dir, pair_dirs, tmp_path):
    """SoftCoT (two tokenizers), CoT-Unk (the backbone's only) and Coconut, each saved by the package and loaded as
    remote code by a process that cannot import it."""
    model, processor = build(pair_dirs)
    cot_unk_dir = tmp_path / "cot_unk"
    torch.manual_seed(0)
    cot_unk = CoTUnkForCausalLM.from_backbone(pair_dirs["llama_backbone"], num_thought_tokens=4)
    cot_unk_processor = SoftCoTProcessor.from_assistant_and_backbone(None, pair_dirs["llama_backbone"])
    cot_unk.save_pretrained(cot_unk_dir)
    cot_unk_processor.save_pretrained(cot_unk_dir)
    coconut = CoconutForCausalLM.from_pretrained(coconut_dir)
    from transformers import AutoTokenizer

    coconut_tokenizer = AutoTokenizer.from_pretrained(coconut_dir)
    coconut_inputs = coconut_tokenizer(QUESTIONS, return_tensors="pt", padding=True)
    coconut_output = coconut.generate(**coconut_inputs, **GENERATE)
    codi_dir = tmp_path / "codi"
    lm = make_lm("plain", len(coconut_tokenizer), 32, seed=8)  # seeds the projection's initialisation too
    codi = CoconutForCausalLM.from_base(lm, coconut_tokenizer, c_thought=1, latent_projection="mlp").eval()
    codi.save_pretrained(codi_dir)
    codi_output = codi.generate(**coconut_inputs, **GENERATE)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(softcot_dir.parent / "modules")}
    env.pop("PYTHONPATH", None)  # the package's checkout must not be importable either
    completed = subprocess.run(
        [
            CLEAN_PYTHON or sys.executable,
            "-c",
            WITHOUT_PACKAGE,
            str(softcot_dir),
            str(coconut_dir),
            str(cot_unk_dir),
            json.dumps(QUESTIONS),
            str(codi_dir),
        ],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        cwd=softcot_dir.parent,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["modules"] == []
    if CLEAN_PYTHON:
        assert result["extras"] == [], f"{CLEAN_PYTHON} is meant to hold only torch and transformers"
    assert result["processor"].startswith("transformers_modules.")
    expected = softcot_generate(model, processor, QUESTIONS)
    assert result["generate"] == expected
    assert result["pipeline"] == expected
    prompt_length = coconut_inputs["input_ids"].shape[1]
    assert result["coconut"] == coconut_tokenizer.batch_decode(
        coconut_output[:, prompt_length:], skip_special_tokens=True
    )
    assert result["codi"] == ["LatentProjection", codi_output.tolist()]
    assert result["cot_unk_processor"].startswith("transformers_modules.")
    assert result["cot_unk"] == softcot_generate(cot_unk, cot_unk_processor, QUESTIONS)


def test_offline_push_fails_at_once_in_one_line(softcot_dir, pair_dirs, monkeypatch):
    from huggingface_hub import constants

    from softcot_hf.cli import main

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    # Hub ids for the config's local paths: past the refusals that need no network (they come first)
    ids = [f"--base-model-id={pair_dirs[side]}=tiny/{side}" for side in ("llama_assistant", "llama_backbone")]
    with pytest.raises(SystemExit) as exit_info:
        main(["push", str(softcot_dir), "--repo-id", "me/softcot", *ids])
    message = str(exit_info.value)
    assert message.startswith("softcot-hf push: error: Cannot reach the Hub at http://127.0.0.1:9")
    assert "HF_HUB_OFFLINE=1" in message and "\n" not in message
