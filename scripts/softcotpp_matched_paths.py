"""SoftCoT + self-consistency against SoftCoT++ at equal numbers of voted paths, on the quickstart task.

For each training seed: train a SoftCoT projection and a SoftCoT++ projection with P thought sets on the shipped tiny
pair (`softcot_hf/assets/quickstart/`) and `synthetic_arithmetic`, with the quickstart's settings (same data, steps,
learning rate, batch); then evaluate on the same test questions, sampling at the official SoftCoT settings (T 1.0,
top-k 50):

- SoftCoT, 1 sampled path (context);
- SoftCoT + self-consistency, P sampled paths voted;
- SoftCoT++, P thought sets x 1 sampled path voted.

Prints per-seed accuracies, their means, and a paired comparison of the two P-path arms over every (seed, question):
the questions only one arm gets right, with an exact two-sided sign-test p-value. Writes everything to a JSON file.

    python scripts/softcotpp_matched_paths.py --paths 4 --seeds 0 1 2            # the recorded run (CPU, ~minutes)
    python scripts/softcotpp_matched_paths.py --quick                            # a smoke run: numbers mean nothing
"""

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch
import transformers

from softcot_hf.evaluation import run_evaluation
from softcot_hf.methods import METHODS
from softcot_hf.pipelines import train
from softcot_hf.quickstart import FULL, TASK, shipped_models

SAMPLING = "softcot_official"


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided binomial p-value of `wins` against `losses` under p = 1/2 (ties dropped)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2**n
    return min(1.0, 2 * tail)


def train_arm(method: str, folder: Path, seed: int, args: argparse.Namespace, **extra) -> Path:
    models = shipped_models()
    settings = dict(
        backbone=str(models / "backbone"),
        assistant=str(models / "assistant"),
        task=TASK,
        limit=args.train_examples,
        max_steps=args.steps,
        learning_rate=args.lr,
        per_device_train_batch_size=args.batch_size,
        save_total_limit=1,
        evaluate=False,
        seed=seed,
        report_to="none",
        disable_tqdm=True,
    )
    train(METHODS[method].arguments(method=method, output_dir=str(folder), **settings, **extra))
    return folder


def evaluate_arm(method: str, folder: Path, seed: int, num_samples: int, args: argparse.Namespace) -> dict:
    summary = run_evaluation(
        TASK,
        method,
        str(folder),
        split="test",
        limit=args.test_examples,
        num_samples=num_samples,
        sampling_preset=SAMPLING,
        seeds=[41 + seed],
        batch_size=args.eval_batch_size,
        max_new_tokens=args.max_new_tokens,
        output_dir=str(folder / f"eval-{num_samples}"),
    )
    rows = [json.loads(line) for line in (folder / f"eval-{num_samples}" / "predictions.jsonl").open()]
    return {"accuracy": summary["accuracy"], "correct": [row["correct"] for row in rows]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=4, help="P: voted paths per question in both arms")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (eval seed 41+s)")
    parser.add_argument("--train-examples", type=int, default=FULL.train_examples)
    parser.add_argument("--test-examples", type=int, default=FULL.test_examples)
    parser.add_argument("--steps", type=int, default=FULL.softcot_steps)
    parser.add_argument("--lr", type=float, default=FULL.softcot_lr)
    parser.add_argument("--batch-size", type=int, default=FULL.batch_size)
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=FULL.max_new_tokens)
    parser.add_argument("--work-dir", default="runs/softcotpp-matched-paths")
    parser.add_argument("--output", default="benchmarks/results/softcotpp_matched_paths-quickstart-cpu.json")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 steps, 4 questions, 1 seed")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.train_examples, args.test_examples, args.seeds, args.max_new_tokens = 2, 8, 4, [0], 8
    work = Path(args.work_dir)
    started = time.perf_counter()
    per_seed = []
    for seed in args.seeds:
        softcot = train_arm("softcot", work / f"softcot-{seed}", seed, args)
        softcotpp = train_arm("softcotpp", work / f"softcotpp-{seed}", seed, args, num_thought_sets=args.paths)
        per_seed.append(
            {
                "seed": seed,
                "softcot_1_path": evaluate_arm("softcot", softcot, seed, 1, args),
                "softcot_sc": evaluate_arm("softcot", softcot, seed, args.paths, args),
                "softcotpp": evaluate_arm("softcotpp", softcotpp, seed, 1, args),
            }
        )
    arms = ("softcot_1_path", "softcot_sc", "softcotpp")
    means = {arm: sum(run[arm]["accuracy"] for run in per_seed) / len(per_seed) for arm in arms}
    pairs = [
        (a, b)
        for run in per_seed
        for a, b in zip(run["softcotpp"]["correct"], run["softcot_sc"]["correct"], strict=True)
    ]
    wins, losses = sum(a and not b for a, b in pairs), sum(b and not a for a, b in pairs)
    results = {
        "per_seed": [{"seed": run["seed"], **{arm: run[arm]["accuracy"] for arm in arms}} for run in per_seed],
        "mean_accuracy": means,
        "paired": {
            "questions": len(pairs),
            "softcotpp_only_correct": wins,
            "softcot_sc_only_correct": losses,
            "sign_test_p": sign_test(wins, losses),
        },
        "wall_time_s": time.perf_counter() - started,
    }
    machine = {
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "scripts/softcotpp_matched_paths.py", *(argv or sys.argv[1:])]),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"machine": machine, "settings": vars(args), "results": results}, indent=2) + "\n")
    print(f"| seed | SoftCoT (1 path) | SoftCoT + SC ({args.paths} paths) | SoftCoT++ ({args.paths} sets) |")
    print("|---|---|---|---|")
    for row in results["per_seed"]:
        print(f"| {row['seed']} | " + " | ".join(f"{100 * row[arm]:.1f}" for arm in arms) + " |")
    print("| mean | " + " | ".join(f"{100 * means[arm]:.1f}" for arm in arms) + " |")
    paired = results["paired"]
    print(
        f"paired over {paired['questions']} (seed, question): SoftCoT++ alone right {wins}, SoftCoT + SC alone right "
        f"{losses}, sign test p = {paired['sign_test_p']:.3g}; wrote {output}"
    )


if __name__ == "__main__":
    main()
