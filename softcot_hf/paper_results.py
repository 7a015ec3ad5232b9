"""The papers' reported numbers, in one table: what `softcot-hf reproduce` prints beside ours.

Keys are `paper/setting/method/task` (a recipe names its row with `paper_result:`). Accuracies are percentages as
printed in the papers (SoftCoT: mean of 5 seeds; Coconut: the main table). Only numbers we could check against the
papers are here; a recipe whose row is missing prints "-" for the paper.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperResult:
    """One cell of a paper's main table."""

    paper: str  # "SoftCoT" (Xu et al., ACL 2025, Table 1), "Coconut" (Hao et al., 2024, Table 1) or "SIM-CoT"
    setting: str  # the models
    method: str  # softcot_hf.methods name
    task: str  # softcot_hf.data task name
    accuracy: float  # percent
    generated_tokens: float | None = None  # mean generated tokens per answer, where the paper gives it


_SOFTCOT_LLAMA = "LLaMA-3.1-8B-Instruct backbone, LLaMA-3.2-1B-Instruct assistant"
_SOFTCOT_TASKS = ("gsm8k", "asdiv_aug", "aqua", "strategyqa", "date_understanding")
# SoftCoT paper (arXiv 2502.12134v2, main table), LLaMA pair, accuracy % (mean of 5 seeds); None: not reported. Its
# Qwen2.5 rows and SoftCoT++'s (arXiv 2505.11484) are not here: no copy of those tables could be read to check them.
_SOFTCOT_TABLE = {
    "zero_shot_cot": (79.61, 86.78, 54.65, 65.63, 54.40),
    "cot_unk": (79.95, 86.90, 55.28, 66.16, 54.16),
    "assist_cot": (80.76, 86.96, 55.83, 66.55, 58.24),
    "lora": (75.66, 86.67, 52.36, None, None),
    "coconut": (76.12, 86.80, 53.15, None, None),
    "softcot": (81.03, 87.19, 56.30, 69.04, 59.04),
}
# Coconut paper (arXiv 2412.06769v2, Table 1), GPT-2: (accuracy %, generated tokens).
_COCONUT_TABLE = {
    ("cot", "gsm8k_aug"): (42.9, 25.0),
    ("no_cot", "gsm8k_aug"): (16.5, 2.2),
    ("coconut", "gsm8k_aug"): (34.1, 8.2),
    # iCoT (Deng et al. 2024), as the table cites it (issue 31); the official log: 30.1 (README.md:25, 0.30)
    ("icot_si", "gsm8k_aug"): (30.0, None),
    ("cot", "prontoqa"): (98.8, 92.5),
    ("no_cot", "prontoqa"): (93.8, 3.0),
    ("coconut", "prontoqa"): (99.8, 9.0),
    ("cot", "prosqa"): (77.5, 49.4),
    ("no_cot", "prosqa"): (76.7, 8.2),
    ("coconut", "prosqa"): (97.0, 14.2),
}

# SIM-CoT paper (Wei et al., arXiv 2509.20317, Tables 1-3, as issue 31 quotes them), GSM8k-Aug accuracy %: the
# SIM-CoT repository's own Coconut runs and Coconut + SIM-CoT.
_SIMCOT_TABLE = {
    ("gpt2", "GPT-2", "coconut"): 36.6,
    ("gpt2", "GPT-2", "simcot"): 44.8,
    ("llama1b", "LLaMA-3.2-1B", "coconut"): 33.2,
    ("llama1b", "LLaMA-3.2-1B", "simcot"): 42.2,
}


def _build() -> dict[str, PaperResult]:
    results = {}
    for method, row in _SOFTCOT_TABLE.items():
        for task, accuracy in zip(_SOFTCOT_TASKS, row, strict=True):
            if accuracy is not None:
                results[f"softcot/llama/{method}/{task}"] = PaperResult(
                    "SoftCoT", _SOFTCOT_LLAMA, method, task, accuracy
                )
    for (method, task), (accuracy, tokens) in _COCONUT_TABLE.items():
        results[f"coconut/gpt2/{method}/{task}"] = PaperResult("Coconut", "GPT-2", method, task, accuracy, tokens)
    # CODI paper (Shen et al., arXiv 2502.21074), GPT-2 on GSM8k-Aug: the number issue 31 quotes.
    results["codi/gpt2/codi/gsm8k_aug"] = PaperResult("CODI", "GPT-2", "codi", "gsm8k_aug", 43.7)
    for (key, setting, method), accuracy in _SIMCOT_TABLE.items():
        results[f"simcot/{key}/{method}/gsm8k_aug"] = PaperResult("SIM-CoT", setting, method, "gsm8k_aug", accuracy)
    return results


PAPER_RESULTS: dict[str, PaperResult] = _build()

__all__ = ["PAPER_RESULTS", "PaperResult"]
