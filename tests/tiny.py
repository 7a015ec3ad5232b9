"""Test helpers: saved tiny models (usable as model ids) and where ../shared lives."""

from pathlib import Path

from softcot_hf.tiny import make_lm, make_tokenizer

SHARED = Path(__file__).resolve().parents[2] / "shared"


def save_pair(tmp_path: Path, family: str, hidden_size: int, seed: int, name: str) -> str:
    """Save a tiny model and its tokenizer under tmp_path/name; returns the path (usable as a model id)."""
    tokenizer = make_tokenizer(family)
    model = make_lm(family, len(tokenizer), hidden_size, seed=seed)
    path = tmp_path / name
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


__all__ = ["SHARED", "make_lm", "make_tokenizer", "save_pair"]
