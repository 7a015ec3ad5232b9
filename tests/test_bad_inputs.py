"""The catalogue of bad inputs: each gets a clear error (its type and a fragment of its message) before work starts.

One row per input a user plausibly gets wrong through the Python API or the command line: arguments (the dataclasses'
`__post_init__`, so the CLI shows a usage error naming the flag), data files (the file, the line and the expected
layout), generators, processor inputs and model inputs (the model boundary), and the surfaces around them: settings
files (`--config`, recipes, prompt presets), resume and run files, evaluation summaries, the Hub (a local one,
tests/hub_server.py), the vLLM server client (local sockets) and the lm-eval model types. `before` records what the
input did on the code its case was written against (`clear`, `unclear`: a traceback from deep inside or a message with
no fix, `silent`: no error at all, `hang`); every case is guarded by a timer (`timeout_s`) so a hang fails instead of
hanging CI. `python tests/test_bad_inputs.py` prints the counts by kind, before and now.
"""

import atexit
import builtins
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import huggingface_hub
import pytest
import torch
from datasets import Dataset

from softcot_hf import CoconutConfig, CoconutForCausalLM, CoTUnkForCausalLM, SoftCoTForCausalLM, SoftCoTProcessor, cli
from softcot_hf.data import get_task
from softcot_hf.data.generated import distinct_rows
from softcot_hf.data.prosqa_style import generate_prosqa_style
from softcot_hf.data.synthetic_arithmetic import generate_arithmetic_chains
from softcot_hf.data.task import FEATURES
from softcot_hf.evaluation import run_evaluation
from softcot_hf.evaluation.arguments import EvaluationArguments
from softcot_hf.methods.coconut import CoconutTrainingArguments
from softcot_hf.methods.lora import LoRATrainingArguments
from softcot_hf.methods.softcot import SoftCoTTrainingArguments
from softcot_hf.methods.softcotpp import SoftCoTPPTrainingArguments
from softcot_hf.reproduce import load_recipe
from softcot_hf.reproduce_arguments import ReproduceArguments
from softcot_hf.serving import VLLMServerClient
from softcot_hf.tiny import make_lm, make_tokenizer
from softcot_hf.training.arguments import ThoughtSlotsTrainingArguments
from softcot_hf.training.coconut_curriculum import CoconutStageCallback, CurriculumSettings
from softcot_hf.training.coconut_training import load_examples
from softcot_hf.training.runs import check_output_dir

TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Case:
    id: str
    before: str  # what it did on the starting code: clear, unclear, silent or hang
    run: Callable[[], object]
    error: type[BaseException]
    fragment: str
    timeout_s: float = TIMEOUT_S  # longer for the cases that start a process or import lm-eval


@cache
def _tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="bad-inputs-"))


def _write(name: str, text: str) -> Path:
    """`text` in a fresh folder (one per file name) under the catalogue's temp folder; returns the folder."""
    folder = _tmp() / name.replace("/", "_").replace(".", "_")
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def softcot_args(**kwargs):
    return SoftCoTTrainingArguments(
        **{"output_dir": str(_tmp() / "run"), "backbone": "gpt2", "assistant": "gpt2"} | kwargs
    )


def coconut_args(**kwargs):
    return CoconutTrainingArguments(**{"output_dir": str(_tmp() / "run"), "backbone": "gpt2"} | kwargs)


def eval_args(**kwargs):
    return EvaluationArguments(**{"task": "synthetic_arithmetic", "method": "cot", "model": "gpt2"} | kwargs)


def run_cli(*argv: str) -> None:
    """`softcot-hf ARGV`; a usage error comes back as SystemExit carrying what the parser printed."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            cli.main(list(argv))
    except SystemExit as error:
        raise SystemExit(f"{stderr.getvalue()}{error.code}") from None


def load(task: str, folder: Path, split: str = "test"):
    return get_task(task).load(split, data_dir=folder)


# ---- models, built once ---------------------------------------------------------------------------------------------
LONG_QUESTION = " ".join(["apples"] * 600)  # past the tiny models' 512 positions


@cache
def softcot(family: str = "llama"):
    assistant_tokenizer, backbone_tokenizer = make_tokenizer(family), make_tokenizer(family)
    model = SoftCoTForCausalLM.from_assistant_and_backbone(
        make_lm(family, len(assistant_tokenizer), 16, seed=1),
        make_lm(family, len(backbone_tokenizer), 16, seed=2),
        num_thought_tokens=2,
        assistant_tokenizer=assistant_tokenizer,
        backbone_tokenizer=backbone_tokenizer,
    )
    return model, SoftCoTProcessor(assistant_tokenizer, backbone_tokenizer, num_thought_tokens=2)


@cache
def cot_unk():
    tokenizer = make_tokenizer("plain")
    model = CoTUnkForCausalLM.from_backbone(
        make_lm("plain", len(tokenizer), 16, seed=3), num_thought_tokens=2, backbone_tokenizer=tokenizer
    )
    return model, SoftCoTProcessor(None, tokenizer, num_thought_tokens=2)


@cache
def coconut():
    tokenizer = make_tokenizer("plain")
    model = CoconutForCausalLM.from_base(make_lm("plain", len(tokenizer), 16, seed=4), tokenizer, c_thought=1)
    return model.eval(), tokenizer


@cache
def saved_softcot_with_revision() -> Path:
    """A saved SoftCoT model whose config pins a revision of a frozen model given as a local folder."""
    model, processor = softcot()
    root = _tmp() / "pinned"
    for side, tokenizer in (("assistant", processor.assistant_tokenizer), ("backbone", processor.backbone_tokenizer)):
        getattr(model, side).save_pretrained(root / side)
        tokenizer.save_pretrained(root / side)
    model.config.assistant_model_name_or_path = str(root / "assistant")
    model.config.backbone_model_name_or_path = str(root / "backbone")
    model.config.backbone_revision = "no-such-revision"
    model.save_pretrained(root / "softcot")
    model.config.backbone_revision = None
    return root / "softcot"


def softcot_forward(question: str = "what is 2 plus 3 ?", family: str = "llama", **overrides):
    model, processor = softcot(family)
    return model(**{**processor([question]), **overrides})


def with_first_id(ids: torch.Tensor, token_id: int) -> torch.Tensor:
    ids = ids.clone()
    ids[:, 0] = token_id
    return ids


def cot_unk_forward(question: str):
    model, processor = cot_unk()
    return model(**processor([question]))


def coconut_forward(length: int):
    model, tokenizer = coconut()
    ids = torch.full((1, length), 5)
    return model(input_ids=ids)


def coconut_generate(length: int, **kwargs):
    model, tokenizer = coconut()
    return model.generate(torch.full((1, length), 5), **kwargs)


def prosqa_json(text: str):
    return load("prosqa", _write("prosqa_test.json", text))


def arithmetic_jsonl(text: str):
    return load("synthetic_arithmetic", _write("test.jsonl", text))


def gsm8k_jsonl(text: str):
    return load("gsm8k", _write("test.jsonl", text))


def constant_row(rng):
    return {"question": "always the same", "steps": [], "answer": "1"}


# ---- files, folders and servers of the newer surfaces ---------------------------------------------------------------
@cache
def a_file() -> Path:
    path = _tmp() / "a-file"
    path.write_text("not a folder")
    return path


@cache
def saved_coconut() -> Path:
    """A Coconut folder (model and tokenizer), as `softcot-hf train coconut` leaves one."""
    model, tokenizer = coconut()
    folder = _tmp() / "coconut-model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def pair_tokenizers():
    processor = softcot()[1]
    return processor.assistant_tokenizer, processor.backbone_tokenizer


def binary_file(name: str) -> Path:
    path = _tmp() / name
    path.write_bytes(b"\xff\xfe\x00\x81 task: gsm8k\n")
    return path


def eval_cli(*argv: str) -> None:
    run_cli("eval", "--task", "synthetic_arithmetic", "--method", "cot", "--model", "gpt2", *argv)


def recipe(text: str, name: str = "recipe.yaml") -> Path:
    return _write(name, text) / name


SOFTCOT_RECIPE = (
    "method: softcot\ntask: synthetic_arithmetic\ntrain: {backbone: gpt2, assistant: gpt2, %s}\neval: {%s}\n"
)


def reproduce_args(train: str = "", eval_: str = "") -> ReproduceArguments:
    path = recipe(SOFTCOT_RECIPE % (train, eval_), "reproduce.yaml")
    return ReproduceArguments(recipe=str(path), output_dir=str(_tmp() / "reproduce"))


@cache
def finished_evaluation() -> dict:
    """The settings of a finished one-question evaluation with an output folder (a tiny plain LM saved to a folder, so
    a rerun can be told to be the same run; one new token)."""
    tokenizer, folder = make_tokenizer("plain"), _tmp() / "lm"
    make_lm("plain", len(tokenizer), 16, seed=5).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    settings = {
        "task": "synthetic_arithmetic",
        "method": "cot",
        "model": str(folder),
        "dataset": Dataset.from_list([ROW], features=FEATURES),
        "max_new_tokens": 1,
        "device": "cpu",
        "output_dir": str(_tmp() / "evaluation"),
    }
    run_evaluation(**settings)
    return settings


def resume_evaluation(predictions: bytes) -> None:
    """Resume the evaluation, cut short before its summary, over a predictions.jsonl holding `predictions`."""
    settings = finished_evaluation()
    (Path(settings["output_dir"]) / "summary.json").unlink()
    (Path(settings["output_dir"]) / "predictions.jsonl").write_bytes(predictions)
    run_evaluation(**settings)


def run_folder_with(run_file: str) -> None:
    folder = _write("run.json", run_file)
    check_output_dir(folder, {"method": "softcot"})


def lm_eval_model(name: str, **model_args):
    from softcot_hf.lm_eval_models import CoconutLM, SoftCoTLM

    return {"softcot": SoftCoTLM, "coconut": CoconutLM}[name](**model_args)


@cache
def silent_server() -> str:
    """A 127.0.0.1 socket that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    atexit.register(listener.close)
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


def closed_port() -> str:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return f"http://127.0.0.1:{listener.getsockname()[1]}"


@cache
def html_server() -> str:
    """A 127.0.0.1 HTTP server that answers every request with an HTML page."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>a web page</html>")

        def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    atexit.register(server.shutdown)
    return f"http://127.0.0.1:{server.server_port}"


def complete_on(base_url: str, **client):
    return VLLMServerClient(base_url, "backbone", **client).complete([torch.zeros(2, 4)], {"max_tokens": 1})


# What a client of the local Hub runs with no token (each snippet in one process, which starts with the first case
# that needs it): huggingface_hub reads HF_ENDPOINT when it is imported.
HUB_SNIPPETS = {
    "push": "cli.main(['push', COCONUT, '--repo-id', 'me/coconut'])",
    "refused": "with naming_refusals('me/x'):\n    HfApi(token=False).create_repo('me/x')",
    "revision": "SoftCoTForCausalLM.from_pretrained('me/published', revision='no-such-branch')",
    "repo": "load_lm('me/no-such-model')",
}
HUB_CLIENT = """
import json, sys
from huggingface_hub import HfApi
from softcot_hf import SoftCoTForCausalLM, cli
from softcot_hf.loading import load_lm
from softcot_hf.modeling.hub_push import naming_refusals
COCONUT, snippets, outcomes = sys.argv[1], json.loads(sys.argv[2]), {}
HfApi(token="hf_dummy").create_repo("me/published")
HfApi(token="hf_dummy").upload_folder(repo_id="me/published", folder_path=COCONUT)
for name, snippet in snippets.items():
    try:
        exec(snippet)
        outcomes[name] = None
    except BaseException as error:
        outcomes[name] = [type(error).__name__, str(error)]
print(json.dumps(outcomes))
"""


@cache
def hub_outcomes() -> dict:
    """{snippet name: None or [error type, message]} from one client process of a local Hub."""
    sys.path.insert(0, str(Path(__file__).parent))
    from hub_server import HubServer

    server = HubServer().start()
    try:
        env = {**os.environ, "HF_ENDPOINT": server.url, "HF_HOME": str(_tmp() / "hf-home"), "HF_HUB_DISABLE_XET": "1"}
        for name in ("HF_TOKEN", "HF_HUB_OFFLINE"):
            env.pop(name, None)
        command = [sys.executable, "-c", HUB_CLIENT, str(saved_coconut()), json.dumps(HUB_SNIPPETS)]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=170)
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def hub_client(name: str) -> None:
    """Raise what snippet `name` raised in the client of the local Hub (its type, where that is a builtin)."""
    if (outcome := hub_outcomes()[name]) is not None:
        kind, message = outcome
        if name == "revision" and "couldn't connect" in message and huggingface_hub.__version__.startswith("1."):
            pytest.skip(
                "huggingface_hub 1.x reports a missing revision on the local test Hub as a connection failure before "
                "our code sees it; the message naming HF_ENDPOINT is checked on the newest releases"
            )
        raise getattr(builtins, kind, RuntimeError)(message)


ROW = {"question": "what is 1 plus 1 ?", "steps": ["1 + 1 = 2"], "answer": "2"}
V = ValueError
CASES = [
    # ---- silent before: no error, a wrong or meaningless result -----------------------------------------------------
    Case("train epochs 0", "silent", lambda: softcot_args(num_train_epochs=0), V, "--num_train_epochs (--epochs)"),
    Case("train epochs negative", "silent", lambda: softcot_args(num_train_epochs=-1), V, "--num_train_epochs"),
    Case("coconut epochs 0", "silent", lambda: coconut_args(num_train_epochs=0), V, "--num_train_epochs"),
    Case("train max_steps 0", "silent", lambda: softcot_args(max_steps=0), V, "--max_steps"),
    Case("train lr 0", "silent", lambda: softcot_args(learning_rate=0), V, "--learning_rate (--lr)"),
    Case("train lr negative", "silent", lambda: softcot_args(learning_rate=-2e-5), V, "--learning_rate"),
    Case("train limit negative", "silent", lambda: softcot_args(limit=-5), V, "--limit"),
    Case("coconut uniform_prob > 1", "silent", lambda: coconut_args(uniform_prob=1.5), V, "--uniform_prob"),
    Case(
        "lora alpha 0",
        "silent",
        lambda: LoRATrainingArguments(output_dir="x", backbone="gpt2", lora_alpha=0),
        V,
        "--lora_alpha",
    ),
    Case(
        "softcot template without {question}",
        "silent",
        lambda: softcot_args(assistant_template="Think."),
        V,
        "--assistant_template",
    ),
    Case("eval top_p 0", "silent", lambda: eval_args(top_p=0.0, num_samples=3), V, "--top_p"),
    Case("question None", "silent", lambda: softcot()[1]([None]), TypeError, "question 0 is None"),
    Case(
        "prompt past positions (Llama)", "silent", lambda: softcot_forward(LONG_QUESTION), V, "max_position_embeddings"
    ),
    Case(
        "revision on a local folder",
        "silent",
        lambda: SoftCoTForCausalLM.from_pretrained(saved_softcot_with_revision()),
        V,
        "local folder",
    ),
    Case(
        "revision with a local path (builder)",
        "silent",
        lambda: SoftCoTForCausalLM.from_assistant_and_backbone(
            str(saved_softcot_with_revision().parent / "assistant"),
            str(saved_softcot_with_revision().parent / "backbone"),
            backbone_revision="v2",
        ),
        V,
        "local folder",
    ),
    Case(
        "processor revision with a local path",
        "silent",
        lambda: SoftCoTProcessor.from_assistant_and_backbone(
            str(saved_softcot_with_revision().parent / "assistant"),
            str(saved_softcot_with_revision().parent / "backbone"),
            backbone_revision="v2",
        ),
        V,
        "local folder",
    ),
    Case(
        "data question null", "silent", lambda: arithmetic_jsonl(json.dumps({**ROW, "question": None})), V, "question"
    ),
    Case(
        "data empty question", "silent", lambda: arithmetic_jsonl(json.dumps({**ROW, "question": " "})), V, "question"
    ),
    Case("generate negative count", "silent", lambda: generate_arithmetic_chains(-1), V, "num_examples"),
    Case("prosqa negative count", "silent", lambda: generate_prosqa_style(-3), V, "num_examples"),
    Case(
        "arithmetic max_value below start",
        "silent",
        lambda: generate_arithmetic_chains(5, max_value=0),
        V,
        "max_value",
    ),
    Case("eval top_p > 1", "silent", lambda: eval_args(top_p=1.5), V, "--top_p"),
    Case(
        "cli train --epochs 0",
        "silent",
        lambda: run_cli(
            "train", "softcot", "--output-dir", "o", "--backbone", "b", "--assistant", "a", "--epochs", "0"
        ),
        SystemExit,
        "--num_train_epochs (--epochs)",
    ),
    Case(
        "data steps not a list",
        "silent",
        lambda: arithmetic_jsonl(json.dumps({**ROW, "steps": "1 + 1 = 2"})),
        V,
        "steps",
    ),
    Case(
        "icot line without ||",
        "silent",
        lambda: load("gsm8k_aug", _write("test.txt", "no separator here\n")),
        V,
        "test.txt, line 1",
    ),
    Case("processor question a number", "silent", lambda: softcot()[1](["q ?", 3]), TypeError, "question 1 is int"),
    Case("curriculum c_thought 0 (API)", "silent", lambda: CurriculumSettings(c_thought=0), V, "c_thought >= 1"),
    Case(
        "curriculum stage -1 (API)", "silent", lambda: CurriculumSettings(max_latent_stage=-1), V, "max_latent_stage"
    ),
    Case("coconut config c_thought 0", "silent", lambda: CoconutConfig(c_thought=0), V, "c_thought >= 1"),
    Case(
        "from_base max_latent_stage -1",
        "silent",
        lambda: CoconutForCausalLM.from_base(make_lm("plain", 90, 16), make_tokenizer("plain"), max_latent_stage=-1),
        V,
        "max_latent_stage >= 0",
    ),
    # ---- hang before ------------------------------------------------------------------------------------------------
    Case(
        "too few distinct questions",
        "hang",
        lambda: generate_arithmetic_chains(200, min_steps=1, max_steps=1, max_value=3),
        V,
        "distinct questions",
    ),
    Case("constant generator", "hang", lambda: distinct_rows(constant_row, 2, seed=0), V, "distinct questions"),
    Case(
        "exclude every question",
        "hang",
        lambda: distinct_rows(lambda rng: {**ROW, "question": rng.choice("abc")}, 1, seed=0, exclude={"a", "b", "c"}),
        V,
        "distinct questions",
    ),
    # ---- unclear before: a traceback from inside torch, transformers, json or datasets, no file or fix --------------
    Case("train limit 0", "unclear", lambda: softcot_args(limit=0), V, "--limit"),
    Case("answer None", "unclear", lambda: softcot()[1](["q ?"], answers=[None]), TypeError, "answer 0 is None"),
    Case(
        "gsm8k answer without ####",
        "unclear",
        lambda: gsm8k_jsonl('{"question": "q ?", "answer": "just 3"}\n'),
        V,
        "####",
    ),
    Case("data empty file", "unclear", lambda: arithmetic_jsonl("\n"), V, "no examples"),
    Case(
        "train batch size 0",
        "unclear",
        lambda: softcot_args(per_device_train_batch_size=0),
        V,
        "--per_device_train_batch_size (--batch-size)",
    ),
    Case("train batch size -1", "unclear", lambda: softcot_args(per_device_train_batch_size=-1), V, "--batch-size"),
    Case("coconut batch size 0", "unclear", lambda: coconut_args(per_device_train_batch_size=0), V, "--batch-size"),
    Case("train eval batch size 0", "unclear", lambda: softcot_args(eval_batch_size=0), V, "--eval_batch_size"),
    Case("train max_new_tokens 0", "unclear", lambda: softcot_args(max_new_tokens=0), V, "--max_new_tokens"),
    Case("train backbone path missing", "unclear", lambda: softcot_args(backbone="./no/such/model"), V, "--backbone"),
    Case(
        "softcot template unknown field",
        "unclear",
        lambda: softcot_args(assistant_template="{question} {steps}"),
        V,
        "--assistant_template",
    ),
    Case("coconut lora_r 0", "unclear", lambda: coconut_args(lora=True, lora_r=0), V, "--lora_r"),
    Case("eval batch size 0", "unclear", lambda: eval_args(batch_size=0), V, "--batch_size"),
    Case("eval batch size -1", "unclear", lambda: eval_args(batch_size=-1), V, "--batch_size"),
    Case("eval num_samples 0", "unclear", lambda: eval_args(num_samples=0), V, "--num_samples"),
    Case("eval max_new_tokens 0", "unclear", lambda: eval_args(max_new_tokens=0), V, "--max_new_tokens"),
    Case(
        "eval temperature 0 sampling", "unclear", lambda: eval_args(temperature=0.0, num_samples=5), V, "--temperature"
    ),
    Case("eval dtype unknown", "unclear", lambda: eval_args(dtype="bf16"), V, "--dtype"),
    Case(
        "eval num_hint_tokens 0",
        "unclear",
        lambda: eval_args(method="assist_cot", model=None, backbone="gpt2", assistant="gpt2", num_hint_tokens=0),
        V,
        "--num_hint_tokens",
    ),
    Case(
        "cli eval --batch-size 0",
        "unclear",
        lambda: run_cli(
            "eval", "--task", "synthetic_arithmetic", "--method", "cot", "--model", "gpt2", "--batch-size", "0"
        ),
        SystemExit,
        "--batch_size",
    ),
    Case(
        "cli train --batch-size -1",
        "unclear",
        lambda: run_cli("train", "coconut", "--output-dir", "o", "--backbone", "b", "--batch-size", "-1"),
        SystemExit,
        "--batch-size",
    ),
    Case(
        "cli config malformed YAML",
        "unclear",
        lambda: run_cli("eval", "--config", str(_write("bad.yaml", "task: [gsm8k\n") / "bad.yaml")),
        SystemExit,
        "bad.yaml",
    ),
    Case(
        "cli config malformed JSON",
        "unclear",
        lambda: run_cli("eval", "--config", str(_write("bad.json", "{task: 1}") / "bad.json")),
        SystemExit,
        "bad.json",
    ),
    Case(
        "data malformed JSONL",
        "unclear",
        lambda: gsm8k_jsonl('{"question": "q ?", "answer": "#### 1"}\n{oops\n'),
        V,
        "test.jsonl, line 2",
    ),
    Case("data JSONL line not an object", "unclear", lambda: gsm8k_jsonl("[1, 2]\n"), V, "test.jsonl, line 1"),
    Case(
        "data JSONL missing field",
        "unclear",
        lambda: gsm8k_jsonl('{"question": "q ?"}\n'),
        V,
        "line 1 has no 'answer'",
    ),
    Case("data answer null", "unclear", lambda: arithmetic_jsonl(json.dumps({**ROW, "answer": None})), V, "answer"),
    Case("data malformed JSON", "unclear", lambda: prosqa_json('[{"question": '), V, "prosqa_test.json"),
    Case("data JSON not a list", "unclear", lambda: prosqa_json('{"question": "q"}'), V, "a list"),
    Case(
        "data JSON record missing steps",
        "unclear",
        lambda: prosqa_json(json.dumps([{"question": "q", "answer": "a"}])),
        V,
        "record 0 has no 'steps'",
    ),
    Case(
        "coconut train_file malformed",
        "unclear",
        lambda: load_examples("prosqa_style", None, str(_write("train.json", "[1, 2]") / "train.json"), None),
        V,
        "train.json",
    ),
    Case(
        "arithmetic min_steps > max_steps",
        "unclear",
        lambda: generate_arithmetic_chains(3, min_steps=3, max_steps=2),
        V,
        "min_steps",
    ),
    Case(
        "prompt past positions (GPT-2)",
        "unclear",
        lambda: softcot_forward(LONG_QUESTION, family="plain"),
        V,
        "max_position_embeddings",
    ),
    Case(
        "cot_unk prompt past positions",
        "unclear",
        lambda: cot_unk_forward(LONG_QUESTION),
        V,
        "max_position_embeddings",
    ),
    Case("coconut forward past positions", "unclear", lambda: coconut_forward(600), V, "max_position_embeddings"),
    Case(
        "coconut generate past positions",
        "unclear",
        lambda: coconut_generate(500, num_latent_thoughts=20, max_new_tokens=1),
        V,
        "max_position_embeddings",
    ),
    Case("processor no questions", "unclear", lambda: softcot()[1]([]), V, "at least one question"),
    Case(
        "token ids from another tokenizer (SoftCoT)",
        "unclear",
        lambda: softcot_forward("q ?", input_ids=with_first_id(softcot()[1](["q ?"])["input_ids"], 5000)),
        V,
        "outside the backbone's embedding table",
    ),
    Case(
        "assistant ids from another tokenizer",
        "unclear",
        lambda: softcot_forward(
            "q ?", assistant_input_ids=with_first_id(softcot()[1](["q ?"])["assistant_input_ids"], 5000)
        ),
        V,
        "outside the assistant's embedding table",
    ),
    Case(
        "coconut ids from another tokenizer",
        "unclear",
        lambda: coconut()[0](input_ids=torch.tensor([[5, 5000]])),
        V,
        "outside the language model's embedding table",
    ),
    Case(
        "stage callback epochs_per_stage 0 (API)",
        "unclear",
        lambda: CoconutStageCallback(None, 0),
        V,
        "epochs_per_stage",
    ),
    # ---- clear before: keep them clear ------------------------------------------------------------------------------
    Case("train eval_limit 0", "clear", lambda: softcot_args(eval_limit=0), V, "--eval_limit"),
    Case(
        "softcot projection_type unknown (API)",
        "clear",
        lambda: softcot_args(projection_type="conv"),
        V,
        "--projection_type",
    ),
    Case("frozen_dtype unknown (API)", "clear", lambda: softcot_args(frozen_dtype="float16"), V, "--frozen_dtype"),
    Case("eval limit negative", "clear", lambda: eval_args(limit=-1), V, "--limit"),
    Case("train data_dir missing", "clear", lambda: softcot_args(data_dir=str(_tmp() / "nowhere")), V, "--data_dir"),
    Case(
        "coconut train_file missing",
        "clear",
        lambda: coconut_args(train_file=str(_tmp() / "none.json")),
        V,
        "--train_file",
    ),
    Case("eval data_dir missing", "clear", lambda: eval_args(data_dir=str(_tmp() / "nowhere")), V, "--data_dir"),
    Case(
        "inputs_embeds with assistant inputs",
        "clear",
        lambda: softcot_forward(inputs_embeds=torch.zeros(1, 3, 16), input_ids=None),
        V,
        "no slot ids",
    ),
    Case("num_thought_tokens 0", "clear", lambda: softcot_args(num_thought_tokens=0), V, "num_thought_tokens"),
    Case(
        "cot_unk num_thought_tokens -1",
        "clear",
        lambda: ThoughtSlotsTrainingArguments(output_dir="o", backbone="gpt2", num_thought_tokens=-1),
        V,
        "num_thought_tokens",
    ),
    Case("c_thought 0", "clear", lambda: coconut_args(c_thought=0), V, "c_thought"),
    Case("max_latent_stage -1", "clear", lambda: coconut_args(max_latent_stage=-1), V, "max_latent_stage"),
    Case("epochs_per_stage 0", "clear", lambda: coconut_args(epochs_per_stage=0), V, "epochs_per_stage"),
    Case("softcot without assistant", "clear", lambda: softcot_args(assistant=None), V, "--assistant"),
    Case("train unknown task", "clear", lambda: softcot_args(task="gsm9k"), V, "Unknown task"),
    Case("train no output_dir", "clear", lambda: softcot_args(output_dir=None), V, "--output-dir"),
    Case("eval unknown method", "clear", lambda: eval_args(method="softcot2"), V, "Unknown method"),
    Case("eval no seeds", "clear", lambda: eval_args(seeds=[]), V, "seed"),
    Case("eval unknown split", "clear", lambda: eval_args(split="dev"), V, "split"),
    Case(
        "cli unknown method",
        "clear",
        lambda: run_cli("train", "softcot2"),
        SystemExit,
        "unknown method 'softcot2'",
    ),
    Case(
        "cli frozen dtype choice",
        "clear",
        lambda: run_cli("train", "softcot", "--frozen-dtype", "fp16"),
        SystemExit,
        "invalid choice",
    ),
    Case(
        "cli config missing",
        "clear",
        lambda: run_cli("eval", "--config", "nowhere.yaml"),
        SystemExit,
        "softcot-hf eval: error: No config file at nowhere.yaml",
    ),
    Case("data file missing", "clear", lambda: load("synthetic_arithmetic", _tmp()), FileNotFoundError, "test.jsonl"),
    Case("prosqa min_depth 0", "clear", lambda: generate_prosqa_style(3, min_depth=0), V, "min_depth"),
    Case(
        "batch rows mismatch",
        "clear",
        lambda: softcot_forward(input_ids=torch.cat([softcot()[1](["q ?"])["input_ids"]] * 2), attention_mask=None),
        V,
        "rows",
    ),
    Case(
        "coconut negative thoughts",
        "clear",
        lambda: coconut_generate(4, num_latent_thoughts=-1),
        V,
        "num_latent_thoughts",
    ),
    Case(
        "coconut question with latents",
        "clear",
        lambda: coconut()[0].generate(torch.tensor([[coconut()[0].config.latent_token_id]])),
        V,
        "Coconut tokens",
    ),
    # ---- issue 28: the inputs that still failed from deep inside, and their kin -------------------------------------
    # gold answers
    Case(
        "gsm8k gold answer not a number",
        "unclear",
        lambda: gsm8k_jsonl('{"question": "q ?", "answer": "#### twelve"}\n'),
        V,
        "test.jsonl, line 1: the answer after '####' must be a number",
    ),
    Case(
        "gsm8k gold answer empty",
        "silent",
        lambda: gsm8k_jsonl('{"question": "q ?", "answer": "3 + 4 = 7\\n#### "}\n'),
        V,
        "line 1: the answer after '####' must be a number",
    ),
    Case(
        "data gold answer not a number",
        "silent",
        lambda: arithmetic_jsonl(json.dumps({**ROW, "answer": "twelve"})),
        V,
        "example 0: its answer 'twelve' is not a synthetic_arithmetic answer",
    ),
    # the processor
    Case("processor(42)", "unclear", lambda: softcot()[1](42), TypeError, "questions must be a string or a list"),
    Case(
        "processor answers a number",
        "unclear",
        lambda: softcot()[1]("q ?", answers=7),
        TypeError,
        "answers must be a string or a list",
    ),
    Case(
        "processor template unknown field",
        "unclear",
        lambda: SoftCoTProcessor(*pair_tokenizers(), assistant_template="{question} {steps}"),
        V,
        "assistant_template has the unknown field {steps}; it may use {question}, {num_thought_tokens} only",
    ),
    Case(
        "processor backbone template unknown field",
        "unclear",
        lambda: SoftCoTProcessor(*pair_tokenizers(), backbone_template="{question} {hints} {thoughts}"),
        V,
        "backbone_template has the unknown field {hints}",
    ),
    Case(
        "processor template lone brace",
        "unclear",
        lambda: SoftCoTProcessor(*pair_tokenizers(), assistant_template="{question} in {braces"),
        V,
        "assistant_template is not a valid template",
    ),
    Case(
        "question holds the slot token",
        "unclear",
        lambda: softcot()[1](["what is <|reserved_special_token_2|> plus 1 ?"]),
        V,
        "question 0 contains '<|reserved_special_token_2|>', the backbone's thought slot",
    ),
    Case(
        "question holds the assistant placeholder",
        "unclear",
        lambda: softcot_forward("what is <|end_of_text|> plus 1 ?"),
        V,
        "question 0 contains '<|end_of_text|>', the assistant's thought placeholder",
    ),
    Case(
        "answer holds a slot marker",
        "silent",
        lambda: softcot()[1](["q ?"], answers=["<|reserved_special_token_0|> 5"]),
        V,
        "answer 0 contains '<|reserved_special_token_0|>'",
    ),
    # output folders
    Case("train output_dir a file", "silent", lambda: softcot_args(output_dir=str(a_file())), V, "must be a folder"),
    Case(
        "train output_dir under a file",
        "unclear",
        lambda: coconut_args(output_dir=str(a_file() / "run")),
        V,
        "--output_dir must be a folder that can be made, but",
    ),
    Case(
        "train assistant_cache_dir a file",
        "unclear",
        lambda: softcot_args(assistant_cache_dir=str(a_file())),
        V,
        "--assistant_cache_dir must be a folder, not a file",
    ),
    Case("eval output_dir a file", "unclear", lambda: eval_args(output_dir=str(a_file())), V, "must be a folder"),
    Case(
        "cli eval --output-dir a file",
        "unclear",
        lambda: eval_cli("--output-dir", str(a_file())),
        SystemExit,
        "softcot-hf eval: error: --output_dir must be a folder, not a file",
    ),
    Case(
        "cli report --output-dir a file",
        "unclear",
        lambda: run_cli("report", str(finished_evaluation()["output_dir"]), "--output-dir", str(a_file())),
        SystemExit,
        "softcot-hf report: error: --output_dir must be a folder",
    ),
    Case(
        "cli quickstart --output-dir under a file",
        "unclear",
        lambda: run_cli("quickstart", "--output-dir", str(a_file() / "quickstart")),
        SystemExit,
        "softcot-hf quickstart: error: --output_dir must be a folder that can be made",
    ),
    Case(
        "reproduce output_dir a file",
        "unclear",
        lambda: ReproduceArguments(recipe=str(recipe(SOFTCOT_RECIPE % ("", ""))), output_dir=str(a_file())),
        V,
        "--output_dir must be a folder",
    ),
    # the evaluated model
    Case("eval model missing folder", "unclear", lambda: eval_args(model="./no/such/model"), V, "--model must be"),
    Case(
        "cli eval --model missing folder",
        "unclear",
        lambda: run_cli("eval", "--task", "synthetic_arithmetic", "--method", "cot", "--model", "./no/such/model"),
        SystemExit,
        "softcot-hf eval: error: --model must be a local model folder that exists or a Hub id",
    ),
    Case(
        "eval softcot on a Coconut folder",
        "unclear",
        lambda: eval_args(method="softcot", model=str(saved_coconut())),
        V,
        "holds a 'coconut' model, not a softcot artifact: evaluate it with --method no_thoughts or coconut",
    ),
    Case(
        "eval cot on a Coconut folder",
        "silent",
        lambda: eval_args(model=str(saved_coconut())),
        V,
        "not a cot artifact: evaluate it with --method",
    ),
    Case(
        "cli eval cot_unk on a Coconut folder",
        "unclear",
        lambda: run_cli("eval", "--task", "prosqa_style", "--method", "cot_unk", "--model", str(saved_coconut())),
        SystemExit,
        "softcot-hf eval: error: ",
    ),
    # evaluation summaries
    Case(
        "cli report on a foreign JSON",
        "unclear",
        lambda: run_cli("report", str(_write("summary.json", '{"name": "x"}') / "summary.json")),
        SystemExit,
        "summary.json is not an evaluation summary (it has no task, method",
    ),
    Case(
        "cli report on a file that is not JSON",
        "unclear",
        lambda: run_cli("report", str(_write("results.json", "task,accuracy\n") / "results.json")),
        SystemExit,
        "results.json is not a JSON evaluation summary",
    ),
    Case(
        "cli push --summary a foreign JSON",
        "unclear",
        lambda: run_cli("push", str(saved_coconut()), "--repo-id", "me/x", "--summary", str(a_file())),
        SystemExit,
        "a-file is not a JSON evaluation summary",
    ),
    Case(
        "cli push --training not JSON",
        "unclear",
        lambda: run_cli("push", str(saved_coconut()), "--repo-id", "me/x", "--training", str(a_file())),
        SystemExit,
        "The training settings file",
    ),
    # the Hub (a local one, HF_ENDPOINT pointing at it)
    Case(
        "push without a token",
        "unclear",
        lambda: hub_client("push"),
        SystemExit,
        "needs a token, and none is set: log in with `hf auth login`, or set HF_TOKEN",
        timeout_s=180,
    ),
    Case(
        "push the Hub refuses",
        "unclear",
        lambda: hub_client("refused"),
        PermissionError,
        "refused to let this token write to me/x (HTTP 401)",
        timeout_s=180,
    ),
    Case(
        "missing revision names HF_ENDPOINT",
        "unclear",
        lambda: hub_client("revision"),
        OSError,
        "has no revision 'no-such-branch' on the Hub at http://127.0.0.1:",
        timeout_s=180,
    ),
    Case(
        "missing repo names HF_ENDPOINT",
        "unclear",
        lambda: hub_client("repo"),
        OSError,
        "the Hub at http://127.0.0.1:",
        timeout_s=180,
    ),
    # settings files: --config, recipes, prompt presets
    Case(
        "cli config unknown option, with a suggestion",
        "clear",
        lambda: run_cli("eval", "--config", str(_write("typo.yaml", "tsak: gsm8k\n") / "typo.yaml")),
        SystemExit,
        "sets unknown options ['tsak'] (did you mean 'tsak' -> 'task'?)",
    ),
    Case(
        "cli config wrong type",
        "clear",
        lambda: run_cli(
            "train", "coconut", "--config", str(_write("epochs.yaml", "epochs_per_stage: two\n") / "epochs.yaml")
        ),
        SystemExit,
        "invalid int value: 'two'",
    ),
    Case(
        "cli config a folder",
        "unclear",
        lambda: run_cli("eval", "--config", str(_tmp())),
        SystemExit,
        "it is a folder",
    ),
    Case(
        "cli config not text",
        "unclear",
        lambda: run_cli("eval", "--config", str(binary_file("binary.yaml"))),
        SystemExit,
        "is not text",
    ),
    Case(
        "API learning_rate as text",
        "unclear",
        lambda: softcot_args(learning_rate="2e-5"),
        V,
        "--learning_rate (--lr) must be a number, not text (drop the quotes",
    ),
    Case(
        "API num_thought_tokens as text",
        "unclear",
        lambda: softcot_args(num_thought_tokens="4"),
        V,
        "--num_thought_tokens must be a whole number",
    ),
    Case("API c_thought as text", "unclear", lambda: coconut_args(c_thought="2"), V, "--c_thought must be a whole"),
    Case("API eval temperature as text", "silent", lambda: eval_args(temperature="0.5"), V, "--temperature must be"),
    Case("eval seeds as words", "unclear", lambda: eval_args(seeds=["one"]), V, "--seeds must be whole numbers"),
    Case(
        "recipe learning_rate quoted",
        "unclear",
        lambda: reproduce_args(train="learning_rate: '2e-5'"),
        V,
        "reproduce.yaml: --learning_rate (--lr) must be a number, not text",
    ),
    Case(
        "recipe unknown train option",
        "unclear",
        lambda: load_recipe(recipe(SOFTCOT_RECIPE % ("lerning_rate: 1.0e-4", ""))),
        V,
        "train sets unknown options ['lerning_rate'] (did you mean 'lerning_rate' -> 'learning_rate'?)",
    ),
    Case(
        "recipe unknown eval option",
        "unclear",
        lambda: load_recipe(recipe(SOFTCOT_RECIPE % ("", "seedz: [1, 2]"))),
        V,
        "eval sets unknown options ['seedz']",
    ),
    Case(
        "recipe train not a mapping",
        "unclear",
        lambda: load_recipe(recipe("method: softcot\ntask: gsm8k\ntrain: [1, 2]\n")),
        V,
        "train must be a mapping",
    ),
    Case(
        "recipe malformed YAML",
        "unclear",
        lambda: load_recipe(recipe("method: [softcot\n", "broken.yaml")),
        V,
        "broken.yaml is not valid YAML",
    ),
    Case("recipe missing", "clear", lambda: load_recipe(_tmp() / "none.yaml"), FileNotFoundError, "No recipe at"),
    Case(
        "cli reproduce wrong value",
        "unclear",
        lambda: run_cli("reproduce", str(recipe(SOFTCOT_RECIPE % ("num_train_epochs: 0", ""), "zero.yaml"))),
        SystemExit,
        "softcot-hf reproduce: error: ",
    ),
    Case(
        "prompt preset unknown field",
        "unclear",
        lambda: softcot_args(prompt_preset=str(_write("preset.yaml", "assistant_tmplate: x\n") / "preset.yaml")),
        V,
        "sets unknown options ['assistant_tmplate']",
    ),
    Case(
        "prompt preset not YAML",
        "unclear",
        lambda: softcot_args(prompt_preset=str(_write("preset2.yaml", "a: [1\n") / "preset2.yaml")),
        V,
        "preset2.yaml is not valid YAML",
    ),
    # JSON options
    Case("eval data_options bad JSON", "unclear", lambda: eval_args(data_options="{bad"), V, "--data_options must be"),
    Case("train data_options bad JSON", "unclear", lambda: softcot_args(data_options="{x: 1}"), V, "a JSON object"),
    Case("data_options a list", "unclear", lambda: eval_args(data_options="[1]"), V, "must be a JSON object"),
    Case(
        "data_options unknown option",
        "unclear",
        lambda: softcot_args(task="gsm8k", data_options='{"socratc": true}'),
        V,
        "has no option ['socratc']; it takes socratic, keep_notes",
    ),
    Case(
        "eval vllm_engine_args bad JSON",
        "unclear",
        lambda: eval_args(method="softcot", backend="vllm", vllm_engine_args="tensor_parallel_size=2"),
        V,
        "--vllm_engine_args must be a JSON object",
    ),
    Case(
        "cli eval --data-options bad JSON",
        "unclear",
        lambda: eval_cli("--data-options", "{bad"),
        SystemExit,
        "--data_options must be a JSON object",
    ),
    # sizes
    Case(
        "num_thought_sets 1000000",
        "silent",
        lambda: SoftCoTPPTrainingArguments(
            output_dir=str(_tmp() / "run"), backbone="gpt2", assistant="gpt2", num_thought_sets=1_000_000
        ),
        V,
        "--num_thought_sets must be between 1 and 64",
    ),
    # lm-eval model types
    Case(
        "lm-eval unknown model arg",
        "unclear",
        lambda: lm_eval_model("coconut", pretrained=str(saved_coconut()), temprature=0.5),
        V,
        "it takes batch_size, device, dtype, max_gen_toks, num_latent_thoughts, pretrained, revision",
        timeout_s=60,
    ),
    Case(
        "lm-eval no pretrained",
        "unclear",
        lambda: lm_eval_model("softcot"),
        V,
        "Pass --model_args pretrained=",
        timeout_s=60,
    ),
    Case(
        "lm-eval batch_size a word",
        "unclear",
        lambda: lm_eval_model("coconut", pretrained=str(saved_coconut()), batch_size="eight"),
        V,
        "batch_size must be a whole number",
        timeout_s=60,
    ),
    Case(
        "lm-eval softcot on a Coconut folder",
        "silent",
        lambda: lm_eval_model("softcot", pretrained=str(saved_coconut())),
        V,
        "holds a 'coconut' model, not a softcot one: use --model coconut",
        timeout_s=60,
    ),
    Case(
        "lm-eval missing folder",
        "unclear",
        lambda: lm_eval_model("coconut", pretrained="./no/such/model"),
        FileNotFoundError,
        "neither an existing folder nor a Hub id",
        timeout_s=60,
    ),
    # the vLLM server client
    Case(
        "server never answers",
        "hang",
        lambda: complete_on(silent_server(), connect_timeout=0.5),
        ConnectionError,
        "did not answer /v1/models within 0.5 s",
    ),
    Case("server not running", "unclear", lambda: complete_on(closed_port()), ConnectionError, "Cannot reach"),
    Case("server not vLLM", "unclear", lambda: complete_on(html_server()), RuntimeError, "not JSON"),
    Case(
        "server URL without scheme",
        "unclear",
        lambda: complete_on("127.0.0.1:8000"),
        V,
        "base_url must be the server's URL",
    ),
    # resume and run files
    Case(
        "predictions.jsonl binary garbage",
        "unclear",
        lambda: resume_evaluation(b"\xff\xfe\x00\x81garbage\n"),
        V,
        "predictions.jsonl, line 1 is not text: the file is damaged. Delete it (or pass another --output-dir)",
        timeout_s=30,
    ),
    Case("run.json not JSON", "unclear", lambda: run_folder_with("{cut"), V, "run.json is damaged or not ours"),
    Case("run.json a list", "unclear", lambda: run_folder_with("[]"), V, "a list, not a mapping"),
]


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def outcome(case: Case) -> tuple[str, BaseException | None]:
    """What `case` does now: clear (the expected type and fragment), unclear, silent or hang; and the error."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, case.timeout_s)
    try:
        case.run()
    except _Timeout:
        return "hang", None
    except (Exception, SystemExit) as error:  # noqa: BLE001 - classifying every error is the point
        clear = isinstance(error, case.error) and case.fragment in str(error)
        return ("clear" if clear else "unclear"), error
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return "silent", None


def test_catalogue_is_large_and_covers_every_kind():
    assert len(CASES) >= 160
    assert len({case.id for case in CASES}) == len(CASES)
    assert {"silent", "hang", "unclear", "clear"} <= {case.before for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gets_a_clear_error(case: Case):
    kind, error = outcome(case)
    assert kind == "clear", f"{case.id}: {kind}, {type(error).__name__}: {error}"


if __name__ == "__main__":
    now = {case.id: outcome(case)[0] for case in CASES}
    print("before:", dict(Counter(case.before for case in CASES)), "now:", dict(Counter(now.values())))
    for case in CASES:
        print(f"{case.before:>8} -> {now[case.id]:<8} {case.id}")
