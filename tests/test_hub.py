"""Publishing and loading by Hub id, over real HTTP: the real `huggingface_hub` client against tests/hub_server.py.

huggingface_hub reads HF_ENDPOINT at import time, so every client-side step runs in a fresh subprocess pointed at the
local server, with a throwaway HF_HOME (an empty cache), a dummy token and Xet disabled (the server speaks LFS).
"""

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import BLOCK_PACKAGE, QUESTIONS, build
from hub_server import HubServer
from huggingface_hub import ModelCard
from safetensors.torch import load
from transformers import AutoModelForCausalLM, AutoTokenizer

REPO_ROOT = Path(__file__).resolve().parents[1]
SOFTCOT_ID, COCONUT_ID, FORCED_ID = "me/softcot-tiny", "me/coconut-tiny", "me/forced"
ASSISTANT_ID, BACKBONE_ID, GPT2_ID = "tiny/llama-assistant", "tiny/llama-backbone", "tiny/gpt2-base"
SUMMARY = {
    "task": "gsm8k",
    "method": "softcot",
    "model": SOFTCOT_ID,
    "split": "test",
    "num_examples": 3,
    "num_samples": 1,
    "seeds": [41, 42],
    "accuracy": 0.5,
    "accuracy_std": 0.1,
    "accuracy_per_seed": [0.4, 0.6],
    "mean_generated_tokens": 12.5,
    "wall_time_s": 1.0,
    "settings": {},
    "softcot_hf_version": "0.1.0",
    "date": "2026-01-01",
}
SOFTCOT_FILES = {
    ".gitattributes",
    "README.md",
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "configuration_softcot.py",
    "modeling_softcot.py",
    "frozen_models.py",
    "thought_inspection.py",
    "thought_sets.py",
    "thought_tokens.py",
    "compat.py",
    "hub_card.py",
    "hub_push.py",
    "pipeline_softcot.py",
    "processing_softcot.py",
    "processor_config.json",
    "weights_record.py",
    "weights_sha256.json",
    *(
        f"{side}_tokenizer/{name}"
        for side in ("assistant", "backbone")
        for name in ("chat_template.jinja", "tokenizer.json", "tokenizer_config.json")
    ),
}
COCONUT_MODEL_FILES = {
    ".gitattributes",
    "README.md",
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "configuration_coconut.py",
    "modeling_coconut.py",
    "compat.py",
    "thought_inspection.py",
    "latent_projection.py",
    "thought_tokens.py",
    "hub_card.py",
    "hub_push.py",
    "weights_record.py",
    "weights_sha256.json",
}

COCONUT_TOKENIZER_FILES = {"tokenizer.json", "tokenizer_config.json"}



@pytest.fixture(scope="module")
def hub():
    server = HubServer().start()
    yield server
    server.stop()


def run_client(hub: HubServer, home: Path, *python_args: str) -> str:
    """Run `python *python_args` in a fresh process pointed at `hub`, with an empty cache in `home`; its stdout."""
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(home),
        "HF_TOKEN": "hf_dummy_token",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        # The tests folder, then the caller's path (a checkout run with PYTHONPATH=$PWD tests its own code).
        "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])),
    }
    env.pop("HF_HUB_OFFLINE", None)
    result = subprocess.run(
        [sys.executable, *python_args], env=env, cwd=home.parent, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-4000:]}"
    return result.stdout


PUBLISH = textwrap.dedent(
    """
    import json, runpy, sys, torch
    from pathlib import Path
    from huggingface_hub import HfApi
    from transformers import AutoTokenizer
    from softcot_hf import CoconutForCausalLM, CoTUnkForCausalLM, SoftCoTForCausalLM, SoftCoTProcessor
    from softcot_hf.cli import main as cli
    from softcot_hf.hub import push_to_hub

    dirs, out, leftovers = json.loads(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[4])
    questions, summary = json.loads(sys.argv[3]), json.loads(leftovers["eval/summary.json"])
    api, result = HfApi(), {}
    # The frozen models are ordinary repos of their own.
    for folder, repo_id in ((dirs["llama_assistant"], "%(assistant)s"), (dirs["llama_backbone"], "%(backbone)s"),
                            (dirs["gpt2_backbone"], "%(gpt2)s")):
        api.create_repo(repo_id)
        api.upload_folder(folder_path=folder, repo_id=repo_id)

    torch.manual_seed(0)
    model = SoftCoTForCausalLM.from_assistant_and_backbone("%(assistant)s", "%(backbone)s", num_thought_tokens=3)
    processor = SoftCoTProcessor.from_assistant_and_backbone("%(assistant)s", "%(backbone)s", num_thought_tokens=3)
    inputs = processor(questions)
    refs = {"inputs": dict(inputs)}
    def record(tag):
        with torch.no_grad():
            refs[f"{tag}_logits"] = model(**inputs).logits
        refs[f"{tag}_generated"] = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    record("v1")
    result["v1"] = push_to_hub(model, "%(softcot)s", processor=processor, summaries=[summary]).oid
    with torch.no_grad():
        model.projection.linear_1.weight.mul_(-2.0)
    record("v2")
    result["v2"] = model.push_to_hub("%(softcot)s").oid  # the model's own push: must keep our card
    result["softcot_files"] = sorted(api.list_repo_files("%(softcot)s"))
    example = processor(["tom has 4 apples"])
    new_tokens = model.generate(**example, max_new_tokens=5, do_sample=False)[:, example["input_ids"].shape[1]:]
    result["example_answer"] = processor.batch_decode(new_tokens, skip_special_tokens=True)[0]

    tokenizer = AutoTokenizer.from_pretrained("%(gpt2)s")
    torch.manual_seed(1)
    coconut = CoconutForCausalLM.from_base("%(gpt2)s", tokenizer, c_thought=1, max_latent_stage=2)
    coconut_inputs = tokenizer(["what is 2 plus 3 ?\\n"], return_tensors="pt")
    refs["coconut_inputs"] = dict(coconut_inputs)
    refs["coconut_generated"] = coconut.generate(
        coconut_inputs["input_ids"], attention_mask=coconut_inputs["attention_mask"], max_new_tokens=5
    )
    coconut.push_to_hub("%(coconut)s")
    tokenizer.push_to_hub("%(coconut)s")
    result["coconut_files"] = sorted(api.list_repo_files("%(coconut)s"))

    # The CoT-Unk baseline: trained placeholder embeddings for the frozen backbone, no assistant.
    torch.manual_seed(2)
    cot_unk = CoTUnkForCausalLM.from_backbone("%(backbone)s", num_thought_tokens=3)
    cot_unk_processor = SoftCoTProcessor(None, AutoTokenizer.from_pretrained("%(backbone)s"), num_thought_tokens=3)
    generated = cot_unk.generate(**cot_unk_processor(questions), max_new_tokens=6, do_sample=False)
    refs["cot_unk_generated"] = generated

    # The model's and the processor's own pushes, one after the other: together the same files, our card kept.
    model.push_to_hub("me/two-calls")
    processor.push_to_hub("me/two-calls")

    # Another model type over an existing repo: refused, unless forced (then the repo's files are replaced).
    try:
        coconut.push_to_hub("%(softcot)s")
    except ValueError as error:
        result["refused"] = str(error)
    push_to_hub(model, "%(forced)s", processor=processor)
    coconut.push_to_hub("%(forced)s", force=True)
    result["forced_files"] = sorted(api.list_repo_files("%(forced)s"))

    # Saved folders, with what training leaves next to them, published by the CLI and by the example script.
    saved = {"softcot": (model, processor), "coconut": (coconut, tokenizer), "cot_unk": (cot_unk, cot_unk_processor)}
    for name, things in saved.items():
        folder = out / name
        for thing in things:
            thing.save_pretrained(folder)
        for name, content in leftovers.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(content)
    cli(["push", str(out / "softcot"), "--repo-id", "me/from-cli"])
    cli(["push", str(out / "coconut"), "--repo-id", "me/coconut-cli"])
    cli(["push", str(out / "cot_unk"), "--repo-id", "me/cot-unk-cli"])
    sys.argv = ["push_to_hub.py", str(out / "softcot"), "me/example"]
    runpy.run_path("%(examples)s/push_to_hub.py", run_name="__main__")
    torch.save(refs, out / "refs.pt")
    (out / "result.json").write_text(json.dumps(result))
    """
) % dict(
    assistant=ASSISTANT_ID,
    backbone=BACKBONE_ID,
    gpt2=GPT2_ID,
    softcot=SOFTCOT_ID,
    coconut=COCONUT_ID,
    forced=FORCED_ID,
    examples=REPO_ROOT / "examples",
)

# What a training run leaves next to the model, none of which belongs on the Hub.
LEFTOVERS = {
    "eval/summary.json": json.dumps(SUMMARY),
    "eval/predictions.jsonl": "{}\n",
    "checkpoint-10/model.safetensors": "not a model",
    "checkpoint-10/tokenizer_config.json": "{}",
    "training_args.bin": "pickle",
    "trainer_state.json": json.dumps(
        {
            "num_train_epochs": 2,
            "max_steps": 10,
            "global_step": 10,
            "train_batch_size": 4,
            "log_history": [{"loss": 2.5, "step": 5}, {"loss": 1.25, "step": 10}],
        }
    ),
}


@pytest.fixture(scope="module")
def published(hub, pair_dirs, tmp_path_factory):
    """Push the tiny frozen models as ordinary repos, then SoftCoT (twice) and Coconut models built on them."""
    out = tmp_path_factory.mktemp("published")
    run_client(
        hub,
        out / "hf_home",
        "-c",
        PUBLISH,
        json.dumps(pair_dirs),
        str(out),
        json.dumps(QUESTIONS),
        json.dumps(LEFTOVERS),
    )
    return out, json.loads((out / "result.json").read_text()), torch.load(out / "refs.pt")


def test_softcot_push_uploads_exactly_the_model_files_and_only_projection_weights(hub, published):
    _, result, _ = published
    assert set(result["softcot_files"]) == SOFTCOT_FILES
    files = hub.files(SOFTCOT_ID)
    assert sorted(load(files["model.safetensors"])) == ["projection.linear_1.bias", "projection.linear_1.weight"]
    config = json.loads(files["config.json"])
    assert (config["assistant_model_name_or_path"], config["backbone_model_name_or_path"]) == (
        ASSISTANT_ID,
        BACKBONE_ID,
    )
    assert config["auto_map"]["AutoModelForCausalLM"] == "modeling_softcot.SoftCoTForCausalLM"
    frozen_weights = hub.files(BACKBONE_ID)["model.safetensors"]
    assert len(files["model.safetensors"]) < len(frozen_weights) / 10
    assert not hub.unhandled, f"the client called endpoints the test server does not know: {hub.unhandled}"


def test_pushing_twice_updates_keeps_our_card_and_old_revisions_stay_loadable(hub, published):
    _, result, refs = published
    assert result["v1"] != result["v2"]
    old, new = hub.files(SOFTCOT_ID, result["v1"]), hub.files(SOFTCOT_ID)
    assert old["model.safetensors"] != new["model.safetensors"]
    assert old["README.md"] == new["README.md"]  # model.push_to_hub kept the rendered card
    assert "| gsm8k | test | softcot | 3 | 1 | 41, 42 | 50.00 ± 10.00 | 12.5 |" in new["README.md"].decode()
    assert not torch.equal(refs["v1_logits"], refs["v2_logits"])


def test_another_model_type_is_refused_unless_forced(published):
    _, result, _ = published
    assert SOFTCOT_ID in result["refused"] and "'softcot'" in result["refused"] and "force=True" in result["refused"]
    assert set(result["forced_files"]) == COCONUT_MODEL_FILES  # the SoftCoT files are gone


LOAD_BY_ID = textwrap.dedent(
    """
    import json, sys, torch
    from pathlib import Path
    from huggingface_hub import snapshot_download
    from transformers import AutoModelForCausalLM, AutoProcessor
    import softcot_hf
    out, revision, questions = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    refs, messages = torch.load(out / "refs.pt"), {}

    # The cache starts empty: local_files_only must fail, naming what is missing.
    try:  # the Auto class fails in AutoConfig, before any SoftCoT code runs: transformers' own message
        AutoModelForCausalLM.from_pretrained("%(softcot)s", local_files_only=True)
    except OSError as error:
        messages["auto_nothing_cached"] = str(error)
    try:
        softcot_hf.SoftCoTForCausalLM.from_pretrained("%(softcot)s", local_files_only=True)
    except OSError as error:
        messages["nothing_cached"] = str(error)
    snapshot_download("%(softcot)s")  # now the SoftCoT repo is cached, its frozen models are not
    try:
        AutoModelForCausalLM.from_pretrained("%(softcot)s", local_files_only=True)
    except OSError as error:
        messages["frozen_missing"] = str(error)

    # Online: the processor and both revisions of the model by id, then Coconut.
    processor = AutoProcessor.from_pretrained("%(softcot)s")
    inputs = processor(questions)
    assert all(torch.equal(inputs[key], value) for key, value in refs["inputs"].items())
    for tag, kwargs in (("v2", {}), ("v1", {"revision": revision})):
        model = AutoModelForCausalLM.from_pretrained("%(softcot)s", **kwargs)
        assert type(model) is softcot_hf.SoftCoTForCausalLM
        generated = model.generate(**inputs, max_new_tokens=6, do_sample=False)
        assert generated.tolist() == refs[f"{tag}_generated"].tolist(), tag
    coconut = AutoModelForCausalLM.from_pretrained("%(coconut)s")
    assert type(coconut) is softcot_hf.CoconutForCausalLM
    ids = refs["coconut_inputs"]
    generated = coconut.generate(ids["input_ids"], attention_mask=ids["attention_mask"], max_new_tokens=5)
    assert generated.tolist() == refs["coconut_generated"].tolist()
    try:
        cot_unk = AutoModelForCausalLM.from_pretrained("me/cot-unk-cli")
        inputs = AutoProcessor.from_pretrained("me/cot-unk-cli")(questions)
        generated = cot_unk.generate(**inputs, max_new_tokens=6, do_sample=False)
        same = generated.tolist() == refs["cot_unk_generated"].tolist()
        messages["cot_unk"] = "same generations" if same else "different generations"
    except Exception as error:
        messages["cot_unk"] = f"{type(error).__name__}: {error}"
    print(json.dumps(messages))
    """
) % dict(softcot=SOFTCOT_ID, coconut=COCONUT_ID)


@pytest.fixture(scope="module")
def loaded_by_id(hub, published, tmp_path_factory):
    """Errors of offline loads from an empty cache, after which the asserts on loading by id passed."""
    out, result, _ = published
    home = tmp_path_factory.mktemp("load_by_id") / "hf_home"
    stdout = run_client(hub, home, "-c", LOAD_BY_ID, str(out), result["v1"], json.dumps(QUESTIONS))
    return json.loads(stdout.strip().splitlines()[-1])


def test_auto_classes_load_by_id_with_revision_in_a_fresh_process(loaded_by_id):
    """SoftCoT (main and a pinned older revision) and Coconut by id give the generations of the pushed models."""
    assert set(loaded_by_id) == {"auto_nothing_cached", "nothing_cached", "frozen_missing", "cot_unk"}


def test_cot_unk_pushed_by_the_cli_loads_by_id(hub, loaded_by_id, tmp_path):
    assert loaded_by_id["cot_unk"] == "same generations"
    card = load_card(hub, "me/cot-unk-cli", tmp_path)
    assert card.data.base_model == [BACKBONE_ID] and "CoT-Unk" in card.text
    weights = load(hub.files("me/cot-unk-cli")["model.safetensors"])
    assert sorted(weights) == ["thought_embeddings.weight"]


def test_offline_loading_names_what_is_missing(loaded_by_id):
    assert "offline" in loaded_by_id["auto_nothing_cached"]
    nothing_cached = loaded_by_id["nothing_cached"]
    assert SOFTCOT_ID in nothing_cached and "config.json" in nothing_cached
    assert f"hf download {SOFTCOT_ID}" in nothing_cached
    missing = loaded_by_id["frozen_missing"]
    assert ASSISTANT_ID in missing and "frozen assistant" in missing and SOFTCOT_ID in missing
    assert f"hf download {ASSISTANT_ID}" in missing and "local_files_only" in missing


REMOTE_CODE = BLOCK_PACKAGE + textwrap.dedent(
    """
    import sys, torch
    from pathlib import Path
    from transformers import AutoModelForCausalLM
    refs = torch.load(Path(sys.argv[1]) / "refs.pt")
    model = AutoModelForCausalLM.from_pretrained("%(softcot)s", trust_remote_code=True)
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    generated = model.generate(**refs["inputs"], max_new_tokens=6, do_sample=False)
    assert generated.tolist() == refs["v2_generated"].tolist()
    coconut = AutoModelForCausalLM.from_pretrained("%(coconut)s", trust_remote_code=True)
    assert type(coconut).__module__.startswith("transformers_modules"), type(coconut).__module__
    ids = refs["coconut_inputs"]
    generated = coconut.generate(ids["input_ids"], attention_mask=ids["attention_mask"], max_new_tokens=5)
    assert generated.tolist() == refs["coconut_generated"].tolist()
    # The same push as softcot-hf's, from the remote code alone.
    model.push_to_hub("me/remote-push")
    coconut.push_to_hub("me/remote-coconut")
    """
) % dict(softcot=SOFTCOT_ID, coconut=COCONUT_ID)


def test_remote_code_loads_by_id_and_pushes_without_the_package(hub, published, tmp_path):
    out, _, _ = published
    run_client(hub, tmp_path / "hf_home", "-c", REMOTE_CODE, str(out))
    processor_files = {path for path in SOFTCOT_FILES if "tokenizer" in path or path.startswith("process")}
    assert set(hub.files("me/remote-push")) == SOFTCOT_FILES - processor_files
    assert set(hub.files("me/remote-coconut")) == COCONUT_MODEL_FILES
    card = load_card(hub, "me/remote-push", tmp_path)
    assert card.data.base_model == [BACKBONE_ID, ASSISTANT_ID] and "softcot" in card.data.tags
    cli_card = load_card(hub, "me/from-cli", tmp_path)
    # One template: the card of the model's own push differs from the CLI's only by the evaluation and Trainer rows.
    for section in ("## Usage", "## Training settings", "## Evaluation", "## Limitations", "## Citation"):
        assert section in card.text
    assert usage_snippet(card) == usage_snippet(cli_card).replace("me/from-cli", "me/remote-push")
    assert card.text.split("## Limitations")[1] == cli_card.text.split("## Limitations")[1]


def load_card(hub: HubServer, repo_id: str, tmp_path: Path) -> ModelCard:
    readme = tmp_path / f"{repo_id.replace('/', '--')}.md"
    readme.write_bytes(hub.files(repo_id)["README.md"])
    return ModelCard.load(readme)


def usage_snippet(card: ModelCard) -> str:
    return re.search(r"## Usage\n\n```python\n(.*?)```", card.text, re.S).group(1)


CONSUMER = textwrap.dedent(
    """
    import contextlib, io, json, runpy, sys
    snippets, generate_args = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    for snippet in snippets:  # copied from the cards, run as they are
        exec(compile(snippet, "<model card>", "exec"), {})
    sys.argv = ["generate.py", *generate_args]
    streamed = io.StringIO()
    with contextlib.redirect_stdout(streamed):
        runpy.run_path("%(examples)s/generate.py", run_name="__main__")
    print(json.dumps(streamed.getvalue()))
    """
) % dict(examples=REPO_ROOT / "examples")


def test_cards_parse_and_their_usage_snippets_and_the_generate_example_run(hub, published, tmp_path):
    _, result, _ = published
    card = load_card(hub, SOFTCOT_ID, tmp_path)
    assert card.data.base_model == [BACKBONE_ID, ASSISTANT_ID]
    assert card.data.library_name == "transformers" and "softcot" in card.data.tags
    assert card.data.datasets == ["openai/gsm8k"]
    assert [(r.dataset_name, r.metric_type, r.metric_value) for r in card.data.eval_results] == [
        ("gsm8k", "accuracy", 0.5)
    ]
    for section in ("## Usage", "## Training settings", "## Evaluation", "## Limitations", "## Citation"):
        assert section in card.text
    assert "arXiv:2502.12134" in card.text
    coconut_card = load_card(hub, "me/coconut-cli", tmp_path)
    assert coconut_card.data.base_model == [GPT2_ID]
    assert "Continuous Latent Space" in coconut_card.text and "| c_thought | 1 |" in coconut_card.text

    snippets = [usage_snippet(coconut_card), usage_snippet(card)]
    generate_args = ["me/example", "--question", "tom has 4 apples", "--max-new-tokens", "5"]
    stdout = run_client(hub, tmp_path / "hf_home", "-c", CONSUMER, json.dumps(snippets), json.dumps(generate_args))
    streamed = json.loads(stdout.strip().splitlines()[-1])
    assert streamed.strip() == result["example_answer"].strip()


def test_model_and_processor_pushes_together_give_the_same_files_and_keep_the_card(hub, published):
    files = hub.files("me/two-calls")
    assert set(files) == SOFTCOT_FILES
    repo = hub.repos[("model", "me/two-calls")]
    first_card = repo.commits[repo.history[1]]["README.md"].content
    assert files["README.md"] == first_card and b"base_model:" in first_card


def test_model_push_default_card_parses(hub, published, tmp_path):
    card = load_card(hub, COCONUT_ID, tmp_path)
    assert card.data.library_name == "transformers" and "coconut" in card.data.tags
    assert f'from_pretrained("{COCONUT_ID}", trust_remote_code=True)' in card.text


def test_cli_and_example_push_saved_folders_without_training_leftovers(hub, published):
    assert set(hub.files("me/from-cli")) == SOFTCOT_FILES
    assert set(hub.files("me/example")) == SOFTCOT_FILES
    assert set(hub.files("me/coconut-cli")) == COCONUT_MODEL_FILES | COCONUT_TOKENIZER_FILES
    card = hub.files("me/from-cli")["README.md"].decode()
    assert "| gsm8k | test | softcot | 3 | 1 | 41, 42 | 50.00 ± 10.00 | 12.5 |" in card  # FOLDER/eval/summary.json
    assert "| final training loss | 1.25 |" in card and "| num_train_epochs | 2 |" in card


def test_push_folder_refuses_frozen_weights_before_any_upload(pair_dirs, tmp_path):
    """A SoftCoT folder whose safetensors holds backbone weights is refused (no server needed: nothing is sent)."""
    from conftest import build
    from safetensors.torch import save_file

    from softcot_hf.hub import push_folder
    from softcot_hf.modeling.hub_push import files_to_push

    model, processor = build(pair_dirs, num_thought_tokens=3)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert "model.safetensors" in files_to_push(tmp_path) and "README.md" not in files_to_push(tmp_path)
    full = {key: value.contiguous() for key, value in model.state_dict().items()}
    save_file(full, tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match=r"'(assistant|backbone)\..*frozen model's weight"):
        push_folder(tmp_path, "me/never-pushed")


PINNED = textwrap.dedent(
    """
    import json, sys, torch
    from huggingface_hub import HfApi
    from transformers import AutoModelForCausalLM
    from softcot_hf import CoTUnkForCausalLM, SoftCoTForCausalLM, SoftCoTProcessor

    dirs, out = json.loads(sys.argv[1]), sys.argv[2]
    api = HfApi()
    api.create_repo("%(assistant)s", exist_ok=True)
    api.upload_folder(folder_path=dirs["llama_assistant"], repo_id="%(assistant)s")
    # The backbone repo gets a second commit with other weights after the one the projection is trained for.
    api.create_repo("tiny/moving-backbone")
    first = api.upload_folder(folder_path=dirs["llama_backbone"], repo_id="tiny/moving-backbone").oid
    # Built with no revision while the repo is at its first commit: pinned to that commit by default.
    torch.manual_seed(0)
    SoftCoTForCausalLM.from_assistant_and_backbone(
        "%(assistant)s", "tiny/moving-backbone", num_thought_tokens=3
    ).save_pretrained(out + "-auto")
    unpinned = CoTUnkForCausalLM.from_backbone("tiny/moving-backbone", num_thought_tokens=3, pin_revisions=False)
    second = api.upload_folder(folder_path=dirs["llama_backbone_other_weights"], repo_id="tiny/moving-backbone").oid

    torch.manual_seed(0)
    model = SoftCoTForCausalLM.from_assistant_and_backbone(
        "%(assistant)s", "tiny/moving-backbone", num_thought_tokens=3, backbone_revision=first
    )
    processor = SoftCoTProcessor.from_assistant_and_backbone(
        "%(assistant)s", "tiny/moving-backbone", backbone_revision=first, num_thought_tokens=3
    )
    model.save_pretrained(out)
    reloaded = SoftCoTForCausalLM.from_pretrained(out)
    main_backbone = AutoModelForCausalLM.from_pretrained("tiny/moving-backbone")  # the repo's newest commit
    latest = SoftCoTForCausalLM.from_pretrained(out, backbone=main_backbone)
    cot_unk = CoTUnkForCausalLM.from_backbone("tiny/moving-backbone", num_thought_tokens=3, backbone_revision=first)
    cot_unk.save_pretrained(out + "-cot-unk")
    cot_unk_reloaded = CoTUnkForCausalLM.from_pretrained(out + "-cot-unk")
    inputs = processor(json.loads(sys.argv[3]))
    with torch.no_grad():
        logits = [m(**inputs).logits for m in (model, reloaded, latest)]
    first_weight = model.backbone.get_input_embeddings().weight
    auto = SoftCoTForCausalLM.from_pretrained(out + "-auto")
    print(json.dumps({
        "auto_pinned": auto.config.backbone_revision == first and auto.config.assistant_revision is not None,
        "auto_same_backbone": torch.equal(first_weight, auto.backbone.get_input_embeddings().weight),
        "unpinned_on_request": unpinned.config.backbone_revision is None,
        "first_differs_from_second": first != second,
        "recorded": reloaded.config.backbone_revision == first and cot_unk_reloaded.config.backbone_revision == first,
        "reload_same_backbone": torch.equal(first_weight, reloaded.backbone.get_input_embeddings().weight),
        "cot_unk_same_backbone": torch.equal(first_weight, cot_unk_reloaded.backbone.get_input_embeddings().weight),
        "latest_differs": not torch.equal(first_weight, latest.backbone.get_input_embeddings().weight),
        "reload_same_logits": torch.equal(logits[0], logits[1]),
        "latest_other_logits": not torch.allclose(logits[0], logits[2]),
    }))
    """
)


def test_frozen_model_revisions_are_pinned_in_the_config(hub, pair_dirs, tmp_path):
    """A projection built on one commit of its backbone keeps loading that commit after the backbone repo moves on,
    whether that commit was named or was the repo's head when the model was built (pinned by default)."""
    other = tmp_path / "backbone-other-weights"
    model = AutoModelForCausalLM.from_pretrained(pair_dirs["llama_backbone"])
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(1.5)
    model.save_pretrained(other)
    AutoTokenizer.from_pretrained(pair_dirs["llama_backbone"]).save_pretrained(other)
    dirs = {**pair_dirs, "llama_backbone_other_weights": str(other)}
    script = PINNED % {"assistant": ASSISTANT_ID}
    out = run_client(
        hub, tmp_path / "home", "-c", script, json.dumps(dirs), str(tmp_path / "pinned"), json.dumps(QUESTIONS)
    )
    assert json.loads(out.strip().splitlines()[-1]) == {
        "auto_pinned": True,
        "auto_same_backbone": True,
        "unpinned_on_request": True,
        "first_differs_from_second": True,
        "recorded": True,
        "reload_same_backbone": True,
        "cot_unk_same_backbone": True,
        "latest_differs": True,
        "reload_same_logits": True,
        "latest_other_logits": True,
    }


LOCAL_PUSH = textwrap.dedent(
    """
    import json, shutil, sys, torch
    from pathlib import Path
    from transformers import AutoTokenizer
    from softcot_hf import CoconutForCausalLM, SoftCoTForCausalLM, SoftCoTProcessor
    from softcot_hf.cli import main as cli
    from softcot_hf.hub import push_to_hub
    from softcot_hf.modeling.hub_push import LocalPathError

    dirs, out = json.loads(sys.argv[1]), Path(sys.argv[2])
    assistant, backbone, base = dirs["llama_assistant"], dirs["llama_backbone"], dirs["gpt2_backbone"]
    ids = {assistant: "%(assistant)s", backbone: "%(backbone)s", base: "%(gpt2)s"}
    torch.manual_seed(0)
    model = SoftCoTForCausalLM.from_assistant_and_backbone(assistant, backbone, num_thought_tokens=3)
    processor = SoftCoTProcessor.from_assistant_and_backbone(assistant, backbone, num_thought_tokens=3)
    model.save_pretrained(out / "softcot")
    processor.save_pretrained(out / "softcot")
    tokenizer = AutoTokenizer.from_pretrained(base)
    coconut = CoconutForCausalLM.from_base(base, tokenizer, c_thought=1, max_latent_stage=2)
    coconut.save_pretrained(out / "coconut")
    tokenizer.save_pretrained(out / "coconut")
    # Coconut training's run file names the base model and the training file by path.
    run = {"base": base, "train_file": str(out / "train.json")}
    (out / "coconut" / "run.json").write_text(json.dumps(run))
    # A stray file that would be uploaded and holds a local path outside the config: refused even with the ids.
    shutil.copytree(out / "softcot", out / "softcot-notes")
    (out / "softcot-notes" / "notes.txt").write_text(f"trained on {backbone}")
    before = {str(path): path.read_bytes() for path in out.rglob("*") if path.is_file()}

    refusals = {}
    attempts = {
        "model": lambda: model.push_to_hub("me/refused-model"),
        "helper": lambda: push_to_hub(model, "me/refused-helper", processor=processor),
        "cli": lambda: cli(["push", str(out / "softcot"), "--repo-id", "me/refused-cli"]),
        "coconut_cli": lambda: cli(["push", str(out / "coconut"), "--repo-id", "me/refused-coconut"]),
        "half_mapped": lambda: model.push_to_hub("me/refused-half", base_model_ids={assistant: "%(assistant)s"}),
    }
    for name, attempt in attempts.items():
        try:
            attempt()
        except LocalPathError as error:
            refusals[name] = str(error)

    mappings = [f"--base-model-id={path}={hub_id}" for path, hub_id in ids.items()]
    try:
        cli(["push", str(out / "softcot-notes"), "--repo-id", "me/refused-notes", *mappings])
    except LocalPathError as error:
        refusals["notes"] = str(error)

    model.push_to_hub("me/local-model", base_model_ids=ids)
    cli(["push", str(out / "softcot"), "--repo-id", "me/local-cli", *mappings])
    cli(["push", str(out / "coconut"), "--repo-id", "me/local-coconut", "--base-model-id", f"{base}=%(gpt2)s"])
    after = {str(path): path.read_bytes() for path in out.rglob("*") if path.is_file()}
    print(json.dumps({"refusals": refusals, "local_files_unchanged": before == after}))
    """
) % dict(assistant=ASSISTANT_ID, backbone=BACKBONE_ID, gpt2=GPT2_ID)
LOCAL_REPOS = ("me/local-model", "me/local-cli", "me/local-coconut")


@pytest.fixture(scope="module")
def pushed_from_local_paths(hub, pair_dirs, tmp_path_factory):
    """Models built from local folders, pushed without Hub ids (refused) and with them; the local root to look for."""
    out = tmp_path_factory.mktemp("local-paths")
    stdout = run_client(hub, out / "hf_home", "-c", LOCAL_PUSH, json.dumps(pair_dirs), str(out))
    local_root = os.path.commonpath([*pair_dirs.values(), str(out)])  # pytest's base folder, above every path here
    return json.loads(stdout.strip().splitlines()[-1]), local_root


def test_pushes_refuse_local_paths_and_say_how_to_map_them(hub, pair_dirs, pushed_from_local_paths):
    result, _ = pushed_from_local_paths
    refusals = result["refusals"]
    assert set(refusals) == {"model", "helper", "cli", "coconut_cli", "half_mapped", "notes"}
    notes = f"Refusing to push: notes.txt holds the local path {pair_dirs['llama_backbone']}"
    assert refusals["notes"].startswith(notes)
    for name in ("model", "helper", "cli"):
        message = refusals[name]
        assert "config.json: assistant_model_name_or_path = " + pair_dirs["llama_assistant"] in message
        assert "config.json: text_config._name_or_path = " + pair_dirs["llama_backbone"] in message
        assert f"--base-model-id {pair_dirs['llama_backbone']}=OWNER/NAME" in message
        assert f'base_model_ids={{"{pair_dirs["llama_assistant"]}": "OWNER/NAME"' in message
        assert "Nothing was uploaded" in message
    assert pair_dirs["gpt2_backbone"] in refusals["coconut_cli"]
    assert pair_dirs["llama_assistant"] not in refusals["half_mapped"].split("Nothing was uploaded")[0]
    assert pair_dirs["llama_backbone"] in refusals["half_mapped"]
    # Refused before the first request: no repo was created, nothing was sent.
    assert not [repo for _, repo in hub.repos if repo.startswith("me/refused")]
    assert not [path for _, path in hub.requests if "refused" in path]
    assert result["local_files_unchanged"]


def test_pushes_with_hub_ids_hold_no_local_path_in_any_uploaded_byte(hub, pushed_from_local_paths, tmp_path):
    _, local_root = pushed_from_local_paths
    for repo_id in LOCAL_REPOS:
        repo = hub.repos[("model", repo_id)]
        for sha in repo.history:
            for path, stored in repo.commits[sha].items():
                assert local_root.encode() not in stored.content, f"{repo_id}@{sha}: {path} holds a local path"
    for oid, content in hub.lfs_objects.items():
        assert local_root.encode() not in content, f"LFS object {oid} holds a local path"
    for repo_id in ("me/local-model", "me/local-cli"):
        config = json.loads(hub.files(repo_id)["config.json"])
        assert (config["assistant_model_name_or_path"], config["backbone_model_name_or_path"]) == (
            ASSISTANT_ID,
            BACKBONE_ID,
        )
        assert (config["assistant_config"]["_name_or_path"], config["text_config"]["_name_or_path"]) == (
            ASSISTANT_ID,
            BACKBONE_ID,
        )
        assert load_card(hub, repo_id, tmp_path).data.base_model == [BACKBONE_ID, ASSISTANT_ID]
    assert set(hub.files("me/local-cli")) == SOFTCOT_FILES
    coconut = hub.files("me/local-coconut")
    assert set(coconut) == COCONUT_MODEL_FILES | COCONUT_TOKENIZER_FILES  # the run file stays home
    assert json.loads(coconut["config.json"])["text_config"]["_name_or_path"] == GPT2_ID
    assert load_card(hub, "me/local-coconut", tmp_path).data.base_model == [GPT2_ID]


def test_base_model_id_flag_takes_path_equals_hub_id():
    from softcot_hf.arguments_parser import parse_arguments
    from softcot_hf.hub import PushArguments

    def parse(argv):
        return parse_arguments(PushArguments, argv, "softcot-hf push", positional="folder")

    args = parse(["run", "--repo-id", "me/x", "--base-model-id", "/a=b/c=owner/name", "--base-model-id", "/d=o/n"])
    assert args.folder == "run" and args.base_model_ids == {"/a=b/c": "owner/name", "/d": "o/n"}
    assert parse(["--repo-id", "me/x", "run"]).folder == "run"
    with pytest.raises(SystemExit):
        parse(["run", "--repo-id", "me/x", "--base-model-id", "/a/b/c"])


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_offline_push_refuses_local_paths_before_asking_the_hub(pair_dirs, tmp_path):
    """With the Hub out of reach (HF_ENDPOINT a closed port, HF_HUB_OFFLINE unset), pushing a model whose config names
    local paths gives the local-path refusal, not a connection error: the refusal comes before any request."""
    model, processor = build(pair_dirs)
    folder = tmp_path / "my-softcot"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}", "HF_HOME": str(tmp_path / "hf_home")}
    env.pop("HF_HUB_OFFLINE", None)
    done = subprocess.run(
        ["softcot-hf", "push", str(folder), "--repo-id", "me/x"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode != 0
    assert "Refusing to push: these fields name local paths" in done.stderr
    assert f"--base-model-id {pair_dirs['llama_backbone']}=OWNER/NAME" in done.stderr
    assert "Cannot reach the Hub" not in done.stderr


TRAINER_ID = "me/trainer-push"
TRAINER_PUSH = textwrap.dedent(
    """
    import json, sys, torch
    from pathlib import Path
    from huggingface_hub import HfApi
    from transformers import AutoModelForCausalLM, AutoProcessor, Trainer, TrainingArguments
    from softcot_hf import SoftCoTForCausalLM, SoftCoTProcessor
    from softcot_hf.training.softcot_data import collator_for, tokenize_with_processor

    out, questions = Path(sys.argv[1]), json.loads(sys.argv[2])
    torch.manual_seed(0)
    model = SoftCoTForCausalLM.from_assistant_and_backbone("%(assistant)s", "%(backbone)s", num_thought_tokens=3)
    processor = SoftCoTProcessor.from_assistant_and_backbone("%(assistant)s", "%(backbone)s", num_thought_tokens=3)
    encoded = tokenize_with_processor(processor, questions, ["the answer is 5"] * len(questions))
    args = TrainingArguments(
        output_dir=str(out / "run"), max_steps=1, report_to=[], use_cpu=True, push_to_hub=True,
        hub_model_id="%(repo)s", save_strategy="no",
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=encoded, processing_class=processor,
        data_collator=collator_for(processor, processor.backbone_tokenizer),
    )
    trainer.train()
    trainer.push_to_hub()
    reloaded = AutoModelForCausalLM.from_pretrained("%(repo)s")
    reloaded_processor = AutoProcessor.from_pretrained("%(repo)s")
    inputs = processor(questions)
    generate = {"max_new_tokens": 6, "do_sample": False}
    print(json.dumps({
        "files": sorted(HfApi().list_repo_files("%(repo)s")),
        "processor": type(reloaded_processor).__name__,
        "same_inputs": reloaded_processor(questions)["input_ids"].tolist() == inputs["input_ids"].tolist(),
        "same_tokens": torch.equal(reloaded.generate(**inputs, **generate), model.generate(**inputs, **generate)),
    }))
    """
) % dict(assistant=ASSISTANT_ID, backbone=BACKBONE_ID, repo=TRAINER_ID)


def test_trainer_push_to_hub_uploads_the_processor_and_only_the_projection(hub, published, tmp_path):
    """`Trainer(push_to_hub=True, processing_class=processor).push_to_hub()`: the repo holds the processor (both
    tokenizers) and the trained projection, no frozen weight, and loads back by id to the same generations."""
    stdout = run_client(hub, tmp_path / "hf_home", "-c", TRAINER_PUSH, str(tmp_path), json.dumps(QUESTIONS))
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["processor"] == "SoftCoTProcessor" and result["same_inputs"] and result["same_tokens"]
    files = hub.files(TRAINER_ID)
    assert sorted(load(files["model.safetensors"])) == ["projection.linear_1.bias", "projection.linear_1.weight"]
    # Our model and processor files (the processor's two tokenizers included), plus Trainer's own training_args.bin
    # (a pickle of TrainingArguments: it holds output_dir, a local path; `softcot-hf push` never uploads it).
    assert set(result["files"]) == SOFTCOT_FILES | {"training_args.bin"}
