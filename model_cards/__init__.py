"""Model card templates (Jinja, rendered by `softcot_hf.hub` with `huggingface_hub.ModelCard`), one per model type."""
