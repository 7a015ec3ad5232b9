"""The README's first command, at foundation stage: build a tiny SoftCoT model, train its projection for a few
steps, generate, save, reload with `AutoModelForCausalLM` and check the reload answers identically.

The models are tiny and random (built from configs, no download), so the answers are noise: this shows the
mechanics end to end on any CPU in seconds, not reasoning quality.
"""

import argparse
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoProcessor

from .modeling import SoftCoTForCausalLM
from .processing_softcot import SoftCoTProcessor
from .tiny import make_lm, make_tokenizer

QUESTIONS = ["what is 2 plus 3 ?", "tom has 4 apples and eats 1 . how many apples does tom have left ?"]
ANSWERS = ["2 plus 3 is 5 . # 5", "4 minus 1 is 3 . # 3"]


def _save_frozen(folder: Path, family: str, hidden_size: int, seed: int) -> str:
    tokenizer = make_tokenizer(family)
    make_lm(family, len(tokenizer), hidden_size, seed=seed).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def run_quickstart(output_dir: str | Path = "softcot-quickstart", steps: int = 30, seed: int = 0) -> dict:
    """Returns the measured numbers (losses, whether the reload matched) and prints a short report."""
    output_dir = Path(output_dir)
    assistant = _save_frozen(output_dir / "tiny-assistant", "qwen", hidden_size=32, seed=seed + 1)
    backbone = _save_frozen(output_dir / "tiny-backbone", "llama", hidden_size=64, seed=seed + 2)
    torch.manual_seed(seed)
    model = SoftCoTForCausalLM.from_assistant_and_backbone(assistant, backbone, num_thought_tokens=4)
    processor = SoftCoTProcessor.from_assistant_and_backbone(assistant, backbone, num_thought_tokens=4)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    print(f"assistant: Qwen2-shaped, backbone: Llama-shaped; trainable {trainable:,} / frozen {frozen:,} parameters")

    batch = processor(QUESTIONS, answers=ANSWERS)
    optimizer = torch.optim.AdamW(model.projection.parameters(), lr=1e-2)
    model.train()
    losses = []
    for _ in tqdm(range(steps), desc="training the projection"):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    model.eval()
    print(f"loss on the fixed batch: {losses[0]:.3f} -> {losses[-1]:.3f} after {steps} steps")

    prompts = processor(QUESTIONS)
    generated = model.generate(**prompts, max_new_tokens=8, do_sample=False)
    answers = processor.batch_decode(generated[:, prompts["input_ids"].shape[1] :], skip_special_tokens=True)
    checkpoint = output_dir / "softcot"
    model.save_pretrained(checkpoint)
    processor.save_pretrained(checkpoint)
    reloaded = AutoModelForCausalLM.from_pretrained(checkpoint)
    reloaded_processor = AutoProcessor.from_pretrained(checkpoint)
    regenerated = reloaded.generate(**reloaded_processor(QUESTIONS), max_new_tokens=8, do_sample=False)
    same = regenerated.tolist() == generated.tolist()
    weights = checkpoint / "model.safetensors"
    for question, answer in zip(QUESTIONS, answers, strict=True):
        print(f"Q: {question}\nA: {answer}")
    print(f"saved {checkpoint}: projection only, {weights.stat().st_size:,} bytes; reload generates the same: {same}")
    return {"losses": losses, "reload_matches": same, "checkpoint": str(checkpoint)}


def add_commands(commands: argparse._SubParsersAction) -> None:
    """`softcot-hf quickstart`."""
    parser = commands.add_parser("quickstart", help="tiny end-to-end run: build, train, generate, save, reload")
    parser.add_argument("--output-dir", default="softcot-quickstart")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=_quickstart_command)


def _quickstart_command(args: argparse.Namespace) -> None:
    result = run_quickstart(args.output_dir, steps=args.steps, seed=args.seed)
    if not result["reload_matches"]:
        raise SystemExit("the reloaded model generated differently")
