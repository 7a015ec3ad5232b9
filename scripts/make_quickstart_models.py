"""Train the quickstart's tiny models and save them (safetensors and word-level tokenizers) under
`softcot_hf/assets/quickstart/`: a backbone and a tinier assistant on the `synthetic_arithmetic` task, and a backbone
for the small ProsQA-style graphs of the quickstart's second task. Seeded; CPU; 10 to 40 minutes.

    python scripts/make_quickstart_models.py                    # the command that made the shipped files
    python scripts/make_quickstart_models.py --models prosqa    # only the ProsQA-style backbone

What each model learns, so that the quickstart's comparison means something:

- backbone (Llama-shaped, hidden 64, 4 layers): the rationale and answer ("a + b = c ... The answer is N .") from
  three prompts: the Zero-Shot CoT prompt (chat template, the zero_shot_cot method's prompt); the SoftCoT
  prompt whose `{thoughts}` slot holds hard-token hints between the thought markers, the intermediate results of all
  steps but the last, as an instruction-tuned LLM can use hints in its prompt; and Coconut's `question\\n` prompt
  (steps, then "### N"), the format the CoT/No-CoT/Coconut fine-tuning starts from.
- assistant (Llama-shaped, hidden 32, 2 layers, tied embeddings): after its SoftCoT prompt it writes the same hints,
  and at the N placeholder positions that follow its prompt its last-layer state predicts hint i at placeholder i.
  So its soft thoughts carry (imperfect) intermediate results; whether a projection makes the frozen backbone use
  them is what the quickstart measures.

- prosqa_backbone (Llama-shaped, hidden 64, 4 layers, its own word-level vocabulary of names): the chain of facts
  and the answer after Coconut's `question\n` prompt ("Tom is a X. Every X is a Y. ### Tom is a Y."), on the small
  graphs of `softcot_hf.quickstart.PROSQA_OPTIONS`. This is stage 0 of Coconut's curriculum (CoT) done ahead of
  time, as the paper starts its stages from a CoT-trained GPT-2; the quickstart goes on from it. It does not learn
  the task: 46% with CoT on validation, below the 50% of guessing. Most of its chains hold a fact that is not in the
  question (199 of 200 validation questions), and it knows its 8,000 training questions better than new ones (loss
  on the chain and answer 0.15 vs 0.37). Two other runs did worse on the 500 test questions: all 17,886 train
  questions in 2,000 batches of 32 (24%), and the same for 1,500 batches with labels on the question's tokens too
  (35%). Fresh questions in every batch (`--prosqa-fresh-data`: 1,500 x 64 distinct questions, none seen twice) stop
  the memorising but not the inventing: 40% on validation, 39% on test after 1,500 steps (curve every 250 steps on
  200 validation questions: 4, 24, 29, 33, 40, 42%), and 184 of 200 validation chains still hold a made-up fact.
  The same for 3,000 steps (`--prosqa-steps 3000`, 192,000 questions, 24 min): 65% on validation, 70% on test (every
  500 steps: 33, 43, 40, 54, 67, 68%), 151 of 200 chains with a made-up fact. A model that reaches 80% with CoT is
  still to be made (`--prosqa-*` options).

The backbones train for few steps on purpose, so that they still make mistakes; the script ends by printing greedy
accuracies on validation and on the quickstart's 500 test questions with the CoT prompt (kept in
`training_record.json`).
"""

import argparse
import itertools
import json
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from tqdm.auto import tqdm
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from softcot_hf.data import get_task
from softcot_hf.data.prompts import FINE_TUNED, WITH_THOUGHTS, ZERO_SHOT
from softcot_hf.data.prosqa_style import CONCEPTS, PEOPLE, generate_prosqa_style
from softcot_hf.methods import get_method
from softcot_hf.processing_softcot import DEFAULT_ASSISTANT_TEMPLATE, SoftCoTProcessor, render_prompt_ids
from softcot_hf.quickstart import PROSQA_OPTIONS, PROSQA_TASK
from softcot_hf.tiny import CHAT_TEMPLATES, FAMILY_ROLES, FAMILY_SPECIALS
from softcot_hf.training.coconut_curriculum import RationaleExamples

TASK = "synthetic_arithmetic"
FRESH_SEED = 1000  # plus --seed: the generator seed of --prosqa-fresh-data (the splits use seeds 1 to 3)
NUM_THOUGHT_TOKENS = 4
HINT_PAD = "."
ASSETS = Path(__file__).resolve().parents[1] / "softcot_hf" / "assets" / "quickstart"
# Words, numbers and single punctuation marks; "###" (Coconut's answer marker) stays one token.
PIECES = Regex(r"###|\d+|[A-Za-z]+|[^\sA-Za-z\d]")


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(PIECES, "isolated")])


def vocabulary(max_number: int = 29) -> list[str]:
    """Every piece of every prompt the package writes for this task, plus the numbers 0..max_number."""
    task = get_task(TASK)
    texts = [task.build_prompt("{question}", template) for template in (ZERO_SHOT, WITH_THOUGHTS, FINE_TUNED)]
    texts += [DEFAULT_ASSISTANT_TEMPLATE, "user assistant system The answer is ### + - * ="]
    texts += [row["question"] for row in task.load("test").select(range(50))]
    pieces = [piece for text in texts for piece, _ in _pre_tokenizer().pre_tokenize_str(text)]
    return list(dict.fromkeys(pieces + [str(n) for n in range(max_number + 1)]))


def make_word_tokenizer(family: str, words: list[str]) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over `words` (split on spaces and punctuation) with `family`'s special tokens and chat
    template (see `softcot_hf.tiny`). Decoding joins pieces with spaces: "The answer is 32. ### 32"."""
    vocab = {"[UNK]": 0, **{word: i + 1 for i, word in enumerate(words)}}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = _pre_tokenizer()
    # WordPiece's decoder joins pieces with spaces and glues punctuation ("12 ." -> "12."); its prefix is one no
    # piece starts with, so that "###" stays a word instead of gluing "#" to the piece before it.
    backend.decoder = decoders.WordPiece(prefix="\x00")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", **FAMILY_ROLES[family])
    tokenizer.add_special_tokens({"additional_special_tokens": FAMILY_SPECIALS[family]})
    tokenizer.chat_template = CHAT_TEMPLATES[family]
    return tokenizer


def hints(row: dict) -> list[str]:
    """The N hint tokens of a row: the results of all steps but the last, then padding."""
    values = [step.rsplit("=", 1)[1].strip() for step in row["steps"][:-1]][:NUM_THOUGHT_TOKENS]
    return values + [HINT_PAD] * (NUM_THOUGHT_TOKENS - len(values))


def rationale(row: dict) -> str:
    """The target after an instruction prompt: the steps, then the answer as the task asks for it."""
    return " ".join(row["steps"]) + f" The answer is {row['answer']} ."


class Encoder:
    """Token ids of the training sequences (prompt, target) for both models, through the package's own prompts."""

    def __init__(self, processor: SoftCoTProcessor):
        self.processor = processor
        self.task = get_task(TASK)
        self.backbone = processor.backbone_tokenizer
        self.assistant = processor.assistant_tokenizer

    def _ids(self, tokenizer, text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    def backbone_example(self, row: dict, form: str) -> tuple[list[int], list[int]]:
        """`form` is "zero_shot_cot", "hints" (the SoftCoT prompt with hard hints in its slot) or "cot"."""
        eos = [self.backbone.eos_token_id]
        if form == "cot":
            prompt = self._ids(self.backbone, row["question"])
            target = self._ids(self.backbone, " ".join(row["steps"]) + f" ### {row['answer']}") + eos
            return prompt, target
        if form == "hints":
            tokens = self.processor.thought_tokens
            text = f"{tokens.backbone_start} {' '.join(hints(row))} {tokens.backbone_end}"
            text = get_method("softcot").build_prompt(self.task, row["question"], text)
        else:
            text = get_method("zero_shot_cot").build_prompt(self.task, row["question"])
        prompt = render_prompt_ids(self.backbone, text, self.processor.use_chat_template)
        return prompt, self._ids(self.backbone, rationale(row)) + eos

    def assistant_examples(self, row: dict) -> list[tuple[list[int], list[int]]]:
        """Two sequences: prompt -> hints (as text); prompt + N placeholders, hint i predicted at placeholder i."""
        with_placeholders = self.processor.assistant_prompt_ids(row["question"])
        prompt = with_placeholders[:-NUM_THOUGHT_TOKENS]
        hint_ids = self._ids(self.assistant, " ".join(hints(row)))
        written = (prompt, hint_ids + [self.assistant.eos_token_id])
        # Labels are shifted inside the model: position t's state predicts labels[t + 1]. One extra input after the
        # placeholders carries the last hint's label; it cannot change the states at the placeholders (causal).
        at_placeholders = (with_placeholders + [self.assistant.eos_token_id], [None] + hint_ids)
        return [written, at_placeholders]


def batch_of(examples: list[tuple[list[int], list[int | None]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded `input_ids`, `attention_mask` and `labels`. An example is (prompt, target) with the target
    appended, or (full ids, labels of the last len(labels) positions) when the labels hold a `None` marker."""
    rows, labels = [], []
    for first, second in examples:
        if second and second[0] is None:
            ids, label = first, [-100] * (len(first) - len(second) + 1) + second[1:]
        else:
            ids, label = first + second, [-100] * len(first) + second
        rows.append(ids)
        labels.append(label)
    width = max(len(row) for row in rows)
    return {
        "input_ids": torch.tensor([row + [pad_id] * (width - len(row)) for row in rows]),
        "attention_mask": torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows]),
        "labels": torch.tensor([label + [-100] * (width - len(label)) for label in labels]),
    }


def train(
    model, make_batch, steps: int, learning_rate: float, desc: str, after_step: Callable[[int], None] | None = None
) -> list[float]:
    """AdamW with linear warm-up and decay; returns the losses. `after_step(n)` runs after the n-th step (from 1)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / (steps - warmup)))
    )
    model.train()
    losses = []
    progress = tqdm(range(steps), desc=desc)
    for step in progress:
        loss = model(**make_batch()).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        progress.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}")
        if after_step is not None:
            after_step(step + 1)
            model.train()
    return losses


@torch.no_grad()
def greedy(model, tokenizer, prompts: list[list[int]], max_new_tokens: int = 48) -> list[str]:
    """Left-padded greedy generation; the decoded continuations."""
    model.eval()
    width = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    out = model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=pad,
        eos_token_id=tokenizer.eos_token_id,
    )
    return tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)


def report(backbone, assistant, encoder: Encoder, rows: list[dict]) -> dict[str, float]:
    """Greedy accuracy of the backbone with each prompt, and of the assistant's hints (written and at placeholders)."""
    task, numbers = encoder.task, {}
    for form in ("zero_shot_cot", "hints", "cot"):
        prompts = [encoder.backbone_example(row, form)[0] for row in rows]
        texts = [t for i in range(0, len(rows), 100) for t in greedy(backbone, encoder.backbone, prompts[i : i + 100])]
        numbers[f"backbone_{form}"] = sum(task.score(t, r["answer"]) for t, r in zip(texts, rows, strict=True))
    written = [encoder.assistant_examples(row)[0][0] for row in rows]
    texts = [t for i in range(0, len(rows), 100) for t in greedy(assistant, encoder.assistant, written[i : i + 100])]
    expected = [encoder._ids(encoder.assistant, " ".join(hints(row))) for row in rows]
    written_ids = [encoder._ids(encoder.assistant, text) for text in texts]  # decoding glues "8 ." into "8."
    numbers["assistant_hints_written"] = sum(w == e for w, e in zip(written_ids, expected, strict=True))
    batch = batch_of([encoder.assistant_examples(row)[1] for row in rows], assistant.config.pad_token_id)
    logits = assistant(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    predicted = logits[:, :-1].argmax(-1)
    targets = batch["labels"][:, 1:]
    hit = ((predicted == targets) | (targets == -100)).all(-1)
    numbers["assistant_hints_at_placeholders"] = int(hit.sum())
    return {key: value / len(rows) for key, value in numbers.items()}


def prosqa_vocabulary() -> list[str]:
    """Every piece of a ProsQA-style question, chain and answer: names, made-up concepts and the few fixed words."""
    return [*PEOPLE, *CONCEPTS, "Every", "is", "a", "or", "Is", "?", ".", "###"]


def prosqa_cot_accuracy(model, tokenizer, rows: list[dict]) -> float:
    """Greedy accuracy on `rows` after Coconut's `question\\n` prompt (the chain, then "### answer")."""
    task = get_task(PROSQA_TASK)
    prompts = [tokenizer(row["question"] + "\n", add_special_tokens=False)["input_ids"] for row in rows]
    texts = [t for i in range(0, len(rows), 100) for t in greedy(model, tokenizer, prompts[i : i + 100], 32)]
    return sum(task.score(t, r["answer"]) for t, r in zip(texts, rows, strict=True)) / len(rows)


def fresh_prosqa_rows(count: int, seed: int) -> Iterator[dict]:
    """`count` distinct questions of `PROSQA_OPTIONS` drawn for training, none of them a validation or test question;
    the same for the same seed."""
    task = get_task(PROSQA_TASK)
    held_out = {row["question"] for split in ("validation", "test") for row in task.load(split, **PROSQA_OPTIONS)}
    return iter(generate_prosqa_style(count, seed=seed, exclude_questions=held_out, **PROSQA_OPTIONS))


def make_prosqa_backbone(args: argparse.Namespace) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast, dict]:
    """The ProsQA-style backbone trained on CoT (question, chain of facts, "### answer"); (model, tokenizer,
    greedy accuracies with that prompt: validation, test, and every `--prosqa-eval-every` steps on 200 validation
    questions). With `--prosqa-fresh-data` every batch holds new questions (steps x batch size, none repeated)
    instead of samples from the first `--prosqa-train-examples` rows of the train split."""
    rng = random.Random(args.seed)
    tokenizer = make_word_tokenizer("llama", prosqa_vocabulary())
    task = get_task(PROSQA_TASK)
    encoder = RationaleExamples(tokenizer)
    if args.prosqa_fresh_data:
        fresh = fresh_prosqa_rows(args.prosqa_steps * args.prosqa_batch_size, FRESH_SEED + args.seed)
    else:
        data = [
            encoder.encode(row) for row in task.load("train", **PROSQA_OPTIONS).to_list()[: args.prosqa_train_examples]
        ]
    torch.manual_seed(args.seed)
    width, depth = args.prosqa_hidden, args.prosqa_layers
    model = LlamaForCausalLM(
        LlamaConfig(vocab_size=len(tokenizer), hidden_size=width, intermediate_size=3 * width, num_hidden_layers=depth,
                    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                    bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                    pad_token_id=tokenizer.eos_token_id)
    )  # fmt: skip

    def make_batch():
        if args.prosqa_fresh_data:
            encoded = [encoder.encode(row) for row in itertools.islice(fresh, args.prosqa_batch_size)]
        else:
            encoded = rng.sample(data, args.prosqa_batch_size)
        examples = [(row["input_ids"], [None] + row["labels"][1:]) for row in encoded]
        return batch_of(examples, model.config.pad_token_id)

    validation = task.load("validation", **PROSQA_OPTIONS).to_list()
    curve = {}

    def check(step: int) -> None:
        if args.prosqa_eval_every and step % args.prosqa_eval_every == 0:
            curve[step] = prosqa_cot_accuracy(model, tokenizer, validation[:200])
            print(f"step {step}: {curve[step]:.3f} CoT accuracy on 200 validation questions", flush=True)

    train(model, make_batch, args.prosqa_steps, args.prosqa_lr, "prosqa backbone", check)
    numbers = {
        "prosqa_backbone_cot": prosqa_cot_accuracy(model, tokenizer, validation),
        "prosqa_backbone_cot_test": prosqa_cot_accuracy(
            model, tokenizer, task.load("test", **PROSQA_OPTIONS).to_list()
        ),
    }
    if curve:
        numbers["prosqa_backbone_cot_curve"] = curve
    return model, tokenizer, numbers


def save(output: Path, name: str, model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast) -> None:
    """`output/name`: the model's safetensors and its tokenizer, replacing what was there."""
    shutil.rmtree(output / name, ignore_errors=True)
    model.generation_config.pad_token_id = model.config.pad_token_id
    model.save_pretrained(output / name)
    tokenizer.save_pretrained(output / name)


def make_arithmetic_models(args: argparse.Namespace) -> tuple[list[tuple], dict]:
    """The arithmetic backbone and assistant; ([(name, model, tokenizer)], greedy validation accuracies)."""
    rng = random.Random(args.seed)
    words = vocabulary()
    backbone_tokenizer = make_word_tokenizer("llama", words)
    # Both Llama-shaped: `AutoTokenizer` loads a Qwen2-config folder's tokenizer as a Qwen2 tokenizer, whose own
    # pre-tokenizer and byte-level decoder replace this word-level pipeline (digits split one by one).
    assistant_tokenizer = make_word_tokenizer("llama", words)
    task = get_task(TASK)
    processor = SoftCoTProcessor(
        assistant_tokenizer,
        backbone_tokenizer,
        num_thought_tokens=NUM_THOUGHT_TOKENS,
        backbone_template=get_method("softcot").build_prompt(task, "{question}"),
    )
    encoder = Encoder(processor)
    train_rows = task.load("train").to_list()[: args.train_examples]
    check_rows = task.load("validation").to_list()[:300]
    forms = ("zero_shot_cot", "hints", "cot")
    backbone_data = [encoder.backbone_example(row, form) for row in tqdm(train_rows, "encoding") for form in forms]
    assistant_data = [example for row in train_rows for example in encoder.assistant_examples(row)]

    torch.manual_seed(args.seed)
    shape = dict(num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    backbone = LlamaForCausalLM(
        LlamaConfig(vocab_size=len(backbone_tokenizer), hidden_size=64, intermediate_size=192, num_hidden_layers=4,
                    bos_token_id=backbone_tokenizer.bos_token_id, eos_token_id=backbone_tokenizer.eos_token_id,
                    pad_token_id=backbone_tokenizer.eos_token_id, **shape)
    )  # fmt: skip
    assistant = LlamaForCausalLM(
        LlamaConfig(vocab_size=len(assistant_tokenizer), hidden_size=32, intermediate_size=96, num_hidden_layers=2,
                    tie_word_embeddings=True, bos_token_id=assistant_tokenizer.bos_token_id,
                    eos_token_id=assistant_tokenizer.eos_token_id, pad_token_id=assistant_tokenizer.eos_token_id,
                    **shape)
    )  # fmt: skip

    def backbone_batch():
        return batch_of(rng.sample(backbone_data, args.batch_size), backbone.config.pad_token_id)

    def assistant_batch():
        return batch_of(rng.sample(assistant_data, args.batch_size), assistant.config.pad_token_id)

    train(backbone, backbone_batch, args.backbone_steps, 3e-3, "backbone")
    train(assistant, assistant_batch, args.assistant_steps, 3e-3, "assistant")
    numbers = report(backbone, assistant, encoder, check_rows)
    # The quickstart's held-out questions, with the prompt its CoT and Coconut fine-tuning start from.
    test_rows = task.load("test").to_list()[:500]
    prompts = [encoder.backbone_example(row, "cot")[0] for row in test_rows]
    texts = [t for i in range(0, 500, 100) for t in greedy(backbone, backbone_tokenizer, prompts[i : i + 100])]
    numbers["backbone_cot_test"] = sum(task.score(t, r["answer"]) for t, r in zip(texts, test_rows, strict=True)) / 500
    models = [("backbone", backbone, backbone_tokenizer), ("assistant", assistant, assistant_tokenizer)]
    return models, numbers


ARITHMETIC_ARGUMENTS = ("train_examples", "backbone_steps", "assistant_steps", "batch_size", "seed")
PROSQA_ARGUMENTS = (
    "prosqa_train_examples", "prosqa_steps", "prosqa_lr", "prosqa_hidden", "prosqa_layers", "prosqa_batch_size",
    "prosqa_fresh_data", "seed",
)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default=str(ASSETS))
    parser.add_argument("--models", nargs="+", choices=("arithmetic", "prosqa"), default=["arithmetic", "prosqa"])
    parser.add_argument("--train-examples", type=int, default=8000)
    parser.add_argument("--backbone-steps", type=int, default=300)
    parser.add_argument("--assistant-steps", type=int, default=800)
    parser.add_argument("--prosqa-train-examples", type=int, default=8000)
    parser.add_argument("--prosqa-steps", type=int, default=1500)
    parser.add_argument("--prosqa-lr", type=float, default=3e-3)
    parser.add_argument("--prosqa-hidden", type=int, default=64)
    parser.add_argument("--prosqa-layers", type=int, default=4)
    parser.add_argument("--prosqa-batch-size", type=int, default=64)
    parser.add_argument(
        "--prosqa-fresh-data",
        action="store_true",
        help="train on new ProsQA-style questions in every batch (never one twice) instead of the train split's first "
        "--prosqa-train-examples",
    )
    parser.add_argument(
        "--prosqa-eval-every", type=int, default=0, help="print CoT accuracy on 200 validation questions every N steps"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    output = Path(args.output_dir)
    record_path = output / "training_record.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    record["command"] = "python scripts/make_quickstart_models.py"
    if "arithmetic" in args.models:
        models, numbers = make_arithmetic_models(args)
        print(json.dumps(numbers, indent=2))
        for name, model, tokenizer in models:
            save(output, name, model, tokenizer)
        record["arguments"] = {key: getattr(args, key) for key in ARITHMETIC_ARGUMENTS}
        record["validation"] = numbers
    if "prosqa" in args.models:
        model, tokenizer, numbers = make_prosqa_backbone(args)
        print(json.dumps(numbers, indent=2))
        save(output, "prosqa_backbone", model, tokenizer)
        record["prosqa"] = {
            "arguments": {key: getattr(args, key) for key in PROSQA_ARGUMENTS},
            "data_options": PROSQA_OPTIONS,
            "validation": numbers,
        }
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"saved to {output}")


if __name__ == "__main__":
    main()
