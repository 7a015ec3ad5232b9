"""Train a method, then evaluate its artifact: `softcot_hf.pipelines.train(args)` and `softcot-hf train METHOD`.

The training layer never evaluates on its own: this module runs the final evaluation (into `output_dir/eval`) after a
method's pipeline returns, and hands the curriculum pipeline the scorer its best-validation checkpoint selection
calls after every epoch.
"""

from functools import partial
from pathlib import Path

from ..data import Task, get_task
from ..evaluation import run_evaluation
from ..methods import CurriculumMethod, Method, method_for
from ..training.engines import outside_zero3
from ..training.runs import EVAL


def validation_accuracy(model, tokenizer, questions, *, method: Method, task: Task, **settings) -> float:
    """Greedy answer accuracy of `model` on `questions` (rows with "question" and "answer") through the evaluation
    harness; `settings` go to `run_evaluation` (batch_size, max_new_tokens)."""
    summary = run_evaluation(task, method, model, tokenizer=tokenizer, dataset=questions, **settings)
    return summary["accuracy"]


def evaluate_artifact(method: Method, args, output_dir: str | Path) -> dict | None:
    """The final evaluation of the artifact in `output_dir` on the task's test split, into `output_dir/eval` (None
    when `args.evaluate` is off)."""
    if not args.evaluate:
        return None
    output_dir = Path(output_dir)
    with outside_zero3():  # the other processes may have finished: load the artifact whole, here
        return run_evaluation(
            args.task,
            method,
            str(output_dir),
            data_dir=args.data_dir,
            data_options=args.data_options,  # the test split generated as the training split was
            split="test",
            limit=args.eval_limit,
            batch_size=args.eval_batch_size,
            max_new_tokens=args.max_new_tokens or method.answer_tokens,
            output_dir=output_dir / EVAL,
            overwrite=True,  # eval/ is this run's: a final evaluation of other settings is replaced
            **method.artifact_load_kwargs(args),
        )


def train(args, **kwargs) -> dict:
    """Train the method `args.method` names (its arguments dataclass is `type(args)`), write its artifact to
    `args.output_dir`, then evaluate it there unless `args.evaluate` is off. `kwargs` go to the method's pipeline
    (curriculum methods: `callbacks=`). Returns the method's result with "eval" filled (on the main process)."""
    method = method_for(args)
    if isinstance(method, CurriculumMethod):
        settings = {"batch_size": args.eval_batch_size, "max_new_tokens": args.max_new_tokens or method.answer_tokens}
        task = get_task(args.task)
        kwargs.setdefault("score_validation", partial(validation_accuracy, method=method, task=task, **settings))
    outcome = method.train(args, **kwargs)
    if outcome["is_main_process"]:
        outcome["eval"] = evaluate_artifact(method, args, outcome["output_dir"])
    return outcome


def train_and_report(args) -> dict:
    """`softcot-hf train METHOD`: train (see `train`), then print where the artifact and the evaluation went."""
    outcome = train(args)
    if outcome["is_main_process"]:
        loss = outcome["train_loss"]
        done = "already trained" if outcome["already_trained"] else "trained"
        print(f"{args.method}: {done} (train_loss {loss:.4f}); artifact in {outcome['output_dir']}")
        if (summary := outcome["eval"]) is not None:
            print(
                f"accuracy {summary['accuracy']:.4f}, mean generated tokens {summary['mean_generated_tokens']:.1f} "
                f"on {summary['num_examples']} test examples"
            )
    return outcome


__all__ = ["evaluate_artifact", "train", "train_and_report", "validation_accuracy"]
