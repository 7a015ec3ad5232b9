from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="softcot-hf",
    version="0.1.0",
    description="Latent (soft) chain-of-thought reasoning as ordinary Hugging Face models: SoftCoT and Coconut.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    # `modeling/` is self-contained remote code; it is installed as `softcot_hf.modeling`. The model card templates
    # in `model_cards/` are installed as `softcot_hf.model_cards` (package data, read by softcot_hf.hub).
    packages=find_packages(include=["softcot_hf", "softcot_hf.*"]) + ["softcot_hf.modeling", "softcot_hf.model_cards"],
    package_dir={"softcot_hf.modeling": "modeling", "softcot_hf.model_cards": "model_cards"},
    # The quickstart's tiny models (scripts/make_quickstart_models.py makes them): safetensors + tokenizer files.
    package_data={
        "softcot_hf.model_cards": ["*.md", "*.jinja"],
        "softcot_hf": ["assets/quickstart/*.json", "assets/quickstart/*/*"],
    },
    install_requires=[
        "torch>=2.4",
        "transformers>=5.0,<6",
        "safetensors>=0.4",
        "huggingface_hub>=1.0",
        "peft>=0.17",
        "evaluate>=0.4",
        "datasets>=3.0",
        "accelerate>=1.0",
        "tqdm>=4.60",
        "jinja2>=3.1",
        "matplotlib>=3.7",
    ],
    extras_require={"dev": ["pytest>=8", "ruff>=0.6"]},
    entry_points={"console_scripts": ["softcot-hf=softcot_hf.cli:main"]},
)
