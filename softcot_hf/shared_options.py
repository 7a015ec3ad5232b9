"""Options that training and evaluation share, defined once: the task a run reads and the answer length. Light: the
data registry is imported only when the values are checked."""

from dataclasses import dataclass, field

from . import checks


def _help(text: str) -> dict:
    return {"metadata": {"help": text}}


@dataclass
class TaskOptions:
    """The task a run reads: its registry name, a local copy of its data, its loader's options."""

    task: str | None = field(default=None, **_help("task registry name (softcot-hf eval --help lists them)"))
    data_dir: str | None = field(default=None, **_help("a local copy of the task's data, in its original layout"))
    data_options: dict | str | None = field(
        default=None, **_help('options of the task\'s loader, as JSON: e.g. {"socratic": true, "bigbench_369": true}')
    )

    def check_task_options(self) -> None:
        """The task is known (a `Task` object passes), `data_options` parse and suit it, `data_dir` exists."""
        from .data import get_task, list_tasks

        known = list_tasks()
        if self.task is None:
            raise ValueError(f"Pass --task (task=): one of {', '.join(known)}.")
        if isinstance(self.task, str) and self.task not in known:
            raise ValueError(f"Unknown task {self.task!r}; choose one of {', '.join(known)}.")
        checks.json_object(self, "data_options", '{"socratic": true}')
        checks.existing_path(self, "data_dir", folder=True)
        if isinstance(self.task, str):
            flag = checks.flag(self, "data_options")
            get_task(self.task).check_options(self.data_options or {}, local=self.data_dir is not None, name=flag)


@dataclass
class AnswerOptions:
    """How long an answer may be, in an evaluation or a training run's final evaluation."""

    max_new_tokens: int | None = field(
        default=None,
        **_help(
            "answer tokens (default: the method's: 128 for Coconut and its baselines, as in their paper; else 256)"
        ),
    )


__all__ = ["AnswerOptions", "TaskOptions"]
