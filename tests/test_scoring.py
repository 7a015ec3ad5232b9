"""Scoring modes: `official` equals a literal re-reading of the official evaluation scripts on generated outputs, and
the default mode agrees with a careful human grader on hand-labelled realistic outputs."""

import json
import random
import re
from pathlib import Path

import pytest
from tiny import SHARED
from transformers import AutoTokenizer

from softcot_hf.data import get_task

TOKENIZERS = SHARED / "tokenizers"
GRADED = Path(__file__).parent / "fixtures" / "graded_outputs.jsonl"
MAX_DISAGREEMENTS = 10


# ---- The reference: the official scripts' steps, kept deliberately literal (one path per question, so the vote is
# that path's answer). xuyige/SoftCoT evaluate_softcot.py @ fa7f537; facebookresearch/coconut run.py @ 27273cb.
def softcot_reference(task: str, decoded: str, gold_line: str) -> bool:
    """`decoded`: the generated ids decoded with skip_special_tokens=True; `gold_line`: the dataset's answer line
    ("#### 1,250" for GSM8K / ASDiv-Aug / AQuA, the letter for DU, True/False for StrategyQA)."""
    if task in ("gsm8k", "asdiv_aug"):
        answer = gold_line.replace(",", "")
        answer = float(answer[4:]) if "." in answer else int(answer[4:])
        cleaned = decoded.replace(",", "").replace("%", "").replace("$", "")
        match = re.findall(r"\s*([\d,]+(?:\.\d+)?)\s*", cleaned)
        try:
            if match:
                last = match[-1].replace(",", "").replace("%", "").replace("$", "")
                model_answer = round(float(last), 2) if "." in last else int(last)
            else:
                model_answer = None
        except Exception:  # noqa: BLE001 - the script catches everything here
            model_answer = None
    elif task == "strategyqa":
        answer = gold_line == "True"
        backwards = decoded.lower()[::-1]
        last_yes = re.search(r"\bsey\b", backwards)
        last_yes = last_yes.start() if last_yes is not None else len(decoded)
        last_no = re.search(r"\bon\b", backwards)
        last_no = last_no.start() if last_no is not None else len(decoded)
        model_answer = None if last_yes == last_no == len(decoded) else last_yes < last_no
    else:  # aqua, date_understanding
        answer = gold_line[4:].strip() if task == "aqua" else gold_line
        found = re.search(r"\b[a-f]\b", decoded.lower()[::-1])
        model_answer = found.group(0).upper() if found is not None else None
    return model_answer == answer


def coconut_reference(decoded_with_question: str, gold: str) -> bool:
    """`decoded_with_question`: the whole sequence (question, then the generation) decoded without special tokens."""
    answer_output = decoded_with_question.split("#")[-1].replace(",", "").strip()
    return answer_output == gold.replace(",", "").strip()


# ---- Generated outputs: templates x variations, seeded.
NUMBER_FORMS = [
    "The answer is {n}.",
    "Therefore, the final answer is: $\\boxed{{{n}}}$. I hope it is correct.",
    "#### {n}",
    "So she pays ${n} in total.",
    "The answer is {n}%.",
    "{n}",
    "Answer: {n} apples",
    "### Step 1\n{n}\n### Step 2",
    "The answer is {n}.\n\nCheck: 2 + 3 = 5.",
    "Total: {n}, or about {r} per day.",
    "It is -{n} degrees.",
    "\\boxed{{\\frac{{{n}}}{{2}}}}",
    "1e{n}",
    "The answer is {n}.{n}.1",
    "Step 1: 12 * 3 = 36\nStep 2: {n}",
]
# (as written in the output, the gold answer it means)
NUMBERS = [("18", "18"), ("1,250", "1250"), ("7.50", "7.5"), ("0.3333", "0.3333"), ("3", "-3"), ("42.125", "42.125")]
CHOICE_FORMS = [
    "The answer is ({l}).",
    "The answer is ({l}). This is a good choice.",
    "\\boxed{{{l}}}",
    "### {l} Quick Check",
    "({l}) is the correct answer, e.g. by elimination.",
    "which is {l}",
    "so {lo}",
    "Answer: {l}) 36",
    "A train covers it, so ({l}).",
    "Options (A) 1 (B) 2 (C) 3 (D) 4 (E) 5 (F) 6; I pick {l}.",
    "I am not sure.",
    "Either ({l}) or (f).",
    "The answer is {l}.\nDoes that help? Ask me if a step is unclear.",
    "{l}",
    "the ({lo})",
    "({l}), or maybe f",
    "({l}) or e",
]
YES_NO_FORMS = [
    "Yes.",
    "No.",
    "The answer is yes.",
    "No, sharks are fish, and yes, they have gills.",
    "Yes, there is no doubt.",
    "Finished reasoning, the answer is: {w}.",
    "There is no record; the answer is Yes.",
    "It depends.",
    "YES",
    "yes/no: {w}",
    "Nobody knows; yesterday it was true.",
    "**{w}**",
    "Not sure: yes or no?",
    "{w}{w}",
]
TEXT_FORMS = [
    "### {a}",
    "### {a}.",
    "{a}",
    "Step one.\n### {a}",
    "### {a} ",
    "### {lower}",
    "#{a}",
    "### {a}, really",
    "The answer is {a}.",
    "### {a}\n### {other}",
    "### 1,{a}",
    "Reasoning # 2\n### {a}",
]
SPECIAL = {
    "llama3": ["<|eot_id|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|start_header_id|>"],
    "qwen2.5": ["<|im_end|>", "<|endoftext|>", "<|box_start|>", "<|im_start|>"],
    "gpt2": ["<|endoftext|>"],
}
FILLER = ["", "Let me think. ", "We compute 3 + 4 = 7. ", "A quick check: a, b and c are fine. ", "So, "]


def _with_special_tokens(text: str, rng: random.Random, family: str | None) -> str:
    if family is None or rng.random() < 0.4:
        return text
    token = rng.choice(SPECIAL[family])
    where = rng.choice([0, len(text), rng.randrange(len(text) + 1)])
    return text[:where] + token + text[where:]


def generated_outputs(seed: int, family_for_softcot: str | None, family_for_coconut: str | None) -> list[tuple]:
    """(task, output, gold) triples: about 100 per answer family."""
    rng = random.Random(seed)
    cases = []
    for _ in range(110):
        n, gold = rng.choice(NUMBERS)
        gold = gold if rng.random() < 0.6 else rng.choice(NUMBERS)[1]
        text = rng.choice(FILLER) + rng.choice(NUMBER_FORMS).format(n=n, r=rng.choice(["2", "3.5"]))
        cases.append((rng.choice(["gsm8k", "asdiv_aug"]), _with_special_tokens(text, rng, family_for_softcot), gold))
    for _ in range(110):
        task = rng.choice(["aqua", "date_understanding"])
        letter = rng.choice("ABCDEF" if task == "date_understanding" else "ABCDE")
        text = rng.choice(FILLER) + rng.choice(CHOICE_FORMS).format(l=letter, lo=letter.lower())
        gold = letter if letter != "F" and rng.random() < 0.6 else rng.choice("ABCDE")
        cases.append((task, _with_special_tokens(text, rng, family_for_softcot), gold))
    for _ in range(100):
        text = rng.choice(FILLER) + rng.choice(YES_NO_FORMS).format(w=rng.choice(["Yes", "No", "no", "yes"]))
        cases.append(("strategyqa", _with_special_tokens(text, rng, family_for_softcot), rng.choice(["yes", "no"])))
    for _ in range(110):
        task = rng.choice(["prontoqa", "prosqa", "gsm8k_aug"])
        gold = {"prontoqa": rng.choice(["True", "False"]), "prosqa": "Tom is a wumpus.", "gsm8k_aug": "1250"}[task]
        answer = rng.choice([gold, gold.rstrip("."), "False", "1,250", "Tom is a gorpus."])
        text = rng.choice(TEXT_FORMS).format(a=answer, lower=answer.lower(), other=rng.choice(["True", "18"]))
        cases.append((task, _with_special_tokens(text, rng, family_for_coconut), gold))
    return cases


def _official_gold_line(task: str, gold: str) -> str:
    if task in ("gsm8k", "asdiv_aug"):
        return "#### " + (f"{int(gold):,}" if gold.isdigit() else gold)  # the dataset writes thousands commas
    if task == "aqua":
        return f"#### {gold}"
    if task == "strategyqa":
        return str(gold == "yes")
    return gold


COCONUT_QUESTION = "Every wumpus is a zhorpus. Tom is a wumpus. Is Tom a zhorpus or gorpus?"


def reference(task: str, output: str, gold: str, decode) -> bool:
    if task in ("prontoqa", "prosqa", "gsm8k_aug"):
        return coconut_reference(decode(f"{COCONUT_QUESTION}\n{output}", "coconut"), gold)
    return softcot_reference(task, decode(output, "softcot"), _official_gold_line(task, gold))


def _check(cases: list[tuple], decode) -> None:
    assert len(cases) >= 400
    wrong = [
        (task, output, gold)
        for task, output, gold in cases
        if get_task(task).score(output, gold, mode="official") != reference(task, output, gold, decode)
    ]
    assert not wrong, f"{len(wrong)} of {len(cases)} differ from the official scripts' rules, first: {wrong[:5]}"
    scored = [reference(task, output, gold, decode) for task, output, gold in cases]
    assert 0.1 < sum(scored) / len(scored) < 0.9  # the cases hold both right and wrong answers


def test_official_mode_equals_the_official_scripts():
    _check(generated_outputs(0, None, None), decode=lambda text, side: text)


@pytest.mark.skipif(not TOKENIZERS.is_dir(), reason="the real tokenizers in ../shared/tokenizers are absent")
@pytest.mark.parametrize("softcot_family", ["llama3", "qwen2.5"])
def test_official_mode_skips_special_tokens_as_the_official_decode_does(softcot_family):
    tokenizers = {"softcot": softcot_family, "coconut": "gpt2"}
    loaded = {side: AutoTokenizer.from_pretrained(TOKENIZERS / name) for side, name in tokenizers.items()}

    def decode(text: str, side: str) -> str:  # ids as the model would have generated them, decoded as the scripts do
        tokenizer = loaded[side]
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    _check(generated_outputs(1, softcot_family, "gpt2"), decode)


def test_the_default_mode_agrees_with_a_careful_grader():
    rows = [json.loads(line) for line in GRADED.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 117
    assert {row["task"] for row in rows} >= {
        "gsm8k",
        "aqua",
        "strategyqa",
        "date_understanding",
        "prontoqa",
        "prosqa",
        "asdiv_aug",
    }
    disagreements = []
    for row in rows:
        task = get_task(row["task"])
        if task.score(row["output"], row["gold"]) != row["human_correct"]:
            extracted = task.extract_answer(row["output"])
            disagreements.append(f"{row['task']}: gold {row['gold']!r}, read {extracted!r}, {row['note']}")
    print(f"{len(disagreements)} of {len(rows)} disagree with the grader:", *disagreements, sep="\n  ")
    assert len(disagreements) <= MAX_DISAGREEMENTS
