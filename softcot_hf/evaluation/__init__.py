"""Evaluation: metrics shipped as local `evaluate` modules."""

from .metrics import load_metric

__all__ = ["load_metric"]
