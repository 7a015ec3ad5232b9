"""Tasks of the SoftCoT and Coconut papers: loaders, prompts, answer extraction and scoring."""

from .answers import extract_boolean, extract_choice, extract_number, extract_text
from .prompts import build_prompt
from .registry import get_task, list_tasks
from .task import Task

__all__ = [
    "Task",
    "build_prompt",
    "extract_boolean",
    "extract_choice",
    "extract_number",
    "extract_text",
    "get_task",
    "list_tasks",
]
