"""Pipelines: what runs training and evaluation together (train, then evaluate the artifact), above both layers."""

from .training import evaluate_artifact, train, train_and_report, validation_accuracy

__all__ = ["evaluate_artifact", "train", "train_and_report", "validation_accuracy"]
