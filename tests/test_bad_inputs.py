"""The catalogue of bad inputs: each gets a clear error (its type and a fragment of its message) before work starts.

One row per input a user plausibly gets wrong through the Python API or the command line: arguments (the dataclasses'
`__post_init__`, so the CLI shows a usage error naming the flag), data files (the file, the line and the expected
layout), generators, processor inputs and model inputs (the model boundary). `before` records what the input did on
the code this catalogue was written against (`clear`, `unclear`: a traceback from deep inside with no fix, `silent`:
no error at all, `hang`); every case is guarded by a timer so a hang fails instead of hanging CI.
`python tests/test_bad_inputs.py` prints the counts by kind, before and now.
"""

import contextlib
import io
import json
import signal
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import torch

from softcot_hf import CoconutConfig, CoconutForCausalLM, CoTUnkForCausalLM, SoftCoTForCausalLM, SoftCoTProcessor, cli
from softcot_hf.data import get_task
from softcot_hf.data.generated import distinct_rows
from softcot_hf.data.prosqa_style import generate_prosqa_style
from softcot_hf.data.synthetic_arithmetic import generate_arithmetic_chains
from softcot_hf.evaluation.arguments import EvaluationArguments
from softcot_hf.methods.coconut import CoconutTrainingArguments
from softcot_hf.methods.cot_unk import CoTUnkTrainingArguments
from softcot_hf.methods.lora import LoRATrainingArguments
from softcot_hf.methods.softcot import SoftCoTTrainingArguments
from softcot_hf.tiny import make_lm, make_tokenizer
from softcot_hf.training import CoconutStageCallback, CurriculumSettings
from softcot_hf.training.coconut_training import load_examples

TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Case:
    id: str
    before: str  # what it did on the starting code: clear, unclear, silent or hang
    run: Callable[[], object]
    error: type[BaseException]
    fragment: str


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
        lambda: CoTUnkTrainingArguments(output_dir="o", backbone="gpt2", num_thought_tokens=-1),
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
    Case("cli unknown method", "clear", lambda: run_cli("train", "softcot2"), SystemExit, "METHOD is one of"),
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
]


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def outcome(case: Case) -> tuple[str, BaseException | None]:
    """What `case` does now: clear (the expected type and fragment), unclear, silent or hang; and the error."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIMEOUT_S)
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
    assert len(CASES) >= 60
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
