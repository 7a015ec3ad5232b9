"""A package only so that the metric script next to it is installed with softcot_hf."""
