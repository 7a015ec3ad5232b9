"""
The model cards of this package's models, rendered from templates: `render_card(config, ...)` picks the template of
the config's `model_type` (`CARDS`) and fills it with the config's values, the push's settings and an evaluation
section. Upload lives in `hub_push.py`; the model files hold neither.

Remote code, like the models: a model loaded with `trust_remote_code=True` pushes (and so renders its card) without
softcot_hf installed, so the templates travel with the model files. Needs only huggingface_hub (a transformers
dependency) besides the standard library.
"""

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from string import Template

from huggingface_hub import ModelCardData

# The model card: metadata, title, then the model type's parts (`CardTemplate`) in one layout.
CARD = Template(
    "---\n$metadata\n---\n\n# $repo_id\n\n$description\n$usage\n"
    "## Training settings\n\n| setting | value |\n|---|---|\n$settings\n\n## Evaluation\n\n$evaluation\n\n"
    "## Limitations\n\n$limitations\n## Citation\n\n$citation"
)
NO_EVALUATION = "No evaluation summary was given when this model was pushed."
# A Hub repo id as `from_pretrained` reads one: `name` or `owner/name`.
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def is_hub_id(name: str) -> bool:
    """Whether `name` is a Hub repo id (`name` or `owner/name`) and not a path that exists here."""
    return bool(HUB_ID.fullmatch(name)) and not os.path.exists(name)


@dataclass(frozen=True)
class CardTemplate:
    """
    What the card of one model type says.

    - `description`, `usage`, `limitations`, `citation`: the card's parts (markdown), `string.Template`s whose
      `$`-fields are config.json's top-level values, `$repo_id`, `$num_parameters`, `$base_models` and `$adapter_note`;
    - `settings`: `{row label: config key}` of the training-settings table (a key absent from the config is no row);
    - `base_model_keys`: config keys (dotted for sub-configs) naming the models it is built on (`base_model`);
    - `tags`, `commit_message`: the card's tags and the push's default commit message.
    """

    description: str
    usage: str
    limitations: str
    citation: str
    settings: dict[str, str]
    base_model_keys: tuple[str, ...]
    tags: tuple[str, ...]
    commit_message: str

    def base_models(self, config: dict) -> list[str]:
        """The Hub ids among the models `config` (a saved config.json) names under `base_model_keys`."""
        names = []
        for key in self.base_model_keys:
            value = config
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, str) and is_hub_id(value):
                names.append(value)
        return names


XU_2025 = """\
```bibtex
@inproceedings{xu2025softcot,
  title     = {SoftCoT: Soft Chain-of-Thought for Efficient Reasoning with LLMs},
  author    = {Xu, Yige and Guo, Xu and Zeng, Zhiwei and Miao, Chunyan},
  booktitle = {Proceedings of the 63rd Annual Meeting of the Association for Computational Linguistics (ACL)},
  year      = {2025},
  note      = {arXiv:2502.12134}
}
```
"""


def processor_usage(name: str, fetched: str) -> str:
    """The card's "Usage" section for a model whose processor builds the inputs (SoftCoT, CoT-Unk)."""
    return (
        "## Usage\n\n```python\n"
        f"import softcot_hf.auto  # pip install softcot-hf: registers {name} with the Auto classes\n"
        "from transformers import AutoModelForCausalLM, AutoProcessor\n\n"
        f'model = AutoModelForCausalLM.from_pretrained("$repo_id")  # fetches {fetched}\n'
        'processor = AutoProcessor.from_pretrained("$repo_id")\n\n'
        'inputs = processor(["Tom has 4 apples and buys 3 more. How many apples does Tom have?"])\n'
        "output = model.generate(**inputs, max_new_tokens=256, do_sample=False)\n"
        'print(processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)[0])\n'
        "```\n"
    )


CARDS = {
    "softcot": CardTemplate(
        description="""\
A SoftCoT model (Xu et al., ACL 2025): the frozen assistant `$assistant_model_name_or_path` reads the question and
writes $num_thought_tokens soft thoughts in one forward pass, and a trained $projection_type projection maps them into
the input embeddings of the frozen backbone `$backbone_model_name_or_path`, which then reasons and answers as usual.
This repo holds only the projection ($num_parameters parameters), the config naming both frozen models and the
processor; the assistant and backbone are loaded from their own repos, under their own licences.
""",
        usage=processor_usage("SoftCoT", "the projection, then both frozen models"),
        limitations="""\
- Only the projection was trained: the model cannot know more than its frozen backbone, and the soft thoughts help
  most on the kind of questions it was trained on (the paper trains on GSM8K and evaluates other tasks zero-shot).
- The projection fits exactly these two models; with another assistant or backbone it fails to load.
- Loading downloads both frozen models (gated repos need an accepted licence and a token); with
  `local_files_only=True` they must already be in the cache.
- Answers are extracted from free text; check the evaluation settings before comparing numbers across setups.
""",
        citation=XU_2025,
        settings={
            "num_thought_tokens": "num_thought_tokens",
            "projection_type": "projection_type",
            "thought sets per question (SoftCoT++, voted)": "num_thought_sets",  # absent from a SoftCoT config.json
            "assistant (frozen)": "assistant_model_name_or_path",
            "backbone (frozen)": "backbone_model_name_or_path",
        },
        base_model_keys=("backbone_model_name_or_path", "assistant_model_name_or_path"),
        tags=("softcot-hf", "softcot", "latent-reasoning", "chain-of-thought"),
        commit_message="Upload SoftCoT projection",
    ),
    "cot_unk": CardTemplate(
        description="""\
Zero-Shot CoT-Unk, the prompt-tuning baseline of the SoftCoT paper (Xu et al., ACL 2025): $num_thought_tokens
trainable placeholder embeddings are inserted into the chain-of-thought prompt of the frozen backbone
`$backbone_model_name_or_path`. This repo holds only those embeddings ($num_parameters parameters), the config naming
the backbone and the processor; the backbone is loaded from its own repo, under its own licence.
""",
        usage=processor_usage("CoT-Unk", "the embeddings, then the frozen backbone"),
        limitations="""\
- Only the placeholder embeddings were trained: the model cannot know more than its frozen backbone.
- The embeddings fit exactly this backbone; with another one they fail to load.
- Loading downloads the backbone (gated repos need an accepted licence and a token).
""",
        citation=XU_2025,
        settings={"num_thought_tokens": "num_thought_tokens", "backbone (frozen)": "backbone_model_name_or_path"},
        base_model_keys=("backbone_model_name_or_path",),
        tags=("softcot-hf", "cot-unk", "latent-reasoning", "chain-of-thought"),
        commit_message="Upload CoT-Unk thought embeddings",
    ),
    "coconut": CardTemplate(
        description="""\
A Coconut model (Hao et al., 2024) fine-tuned from $base_models: after `<|start-latent|>` it feeds its last hidden
state back as the next input embedding for $num_latent_thoughts continuous thoughts, then writes `<|end-latent|>` and
decodes the answer in ordinary tokens. This repo holds the full fine-tuned model$adapter_note, its tokenizer with the
three Coconut tokens, and the remote code, so `trust_remote_code=True` loads it without any extra package.
""",
        usage="""\
## Usage

```python
from transformers import AutoModelForCausalLM, AutoTokenizer

model = AutoModelForCausalLM.from_pretrained("$repo_id", trust_remote_code=True)
tokenizer = AutoTokenizer.from_pretrained("$repo_id")

question = "Tom has 4 apples and buys 3 more. How many apples does Tom have?"
inputs = tokenizer([question + "\\n"], return_tensors="pt")  # the question, then a newline, as in training
output = model.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], max_new_tokens=256)
print(tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True))
```
""",
        limitations="""\
- The continuous thoughts are not human-readable; the number of thoughts at inference should match training
  (`config.num_latent_thoughts`).
- Trained on one task's data with a curriculum; expect weaker results on other kinds of questions.
- The answer follows the training format (e.g. `### <answer>`); read it with the same extractor the evaluation used.
""",
        citation="""\
```bibtex
@article{hao2024coconut,
  title   = {Training Large Language Models to Reason in a Continuous Latent Space},
  author  = {Hao, Shibo and Sukhbaatar, Sainbayar and Su, DiJia and Li, Xian and Hu, Zhiting and Weston, Jason and
             Tian, Yuandong},
  journal = {arXiv preprint arXiv:2412.06769},
  year    = {2024}
}
```
""",
        settings={key: key for key in ("c_thought", "max_latent_stage", "num_latent_thoughts")},
        base_model_keys=("text_config._name_or_path",),
        tags=("softcot-hf", "coconut", "latent-reasoning", "chain-of-thought"),
        commit_message="Upload Coconut model",
    ),
}


def card_template(model_type: str | None) -> CardTemplate:
    """The card of `model_type` (a config.json's); a clear error for a model type of another package."""
    if model_type not in CARDS:
        raise ValueError(
            f"There is no model card for model_type {model_type!r}: softcot-hf publishes its own models "
            f"({', '.join(CARDS)}). Push other models with their own `push_to_hub`."
        )
    return CARDS[model_type]


def _value(value) -> str:
    """A card table cell: strings (ids, names) as code."""
    return f"`{value}`" if isinstance(value, str) else str(value)


def render_card(
    config: dict,
    repo_id: str,
    num_parameters: int,
    *,
    paths: Sequence[str] = (),
    card_data: dict | None = None,
    training: dict | None = None,
    evaluation: str | None = None,
) -> str:
    """
    The model card (`CARD`) of a checkpoint saved with `config` (the config.json as uploaded), from the template of its
    `model_type`: metadata (`base_model`, tags, plus `card_data`: license, datasets, eval_results, tags), the parts
    with `$`-fields from the config, and the shared sections: training settings (the template's, then `training`)
    and `evaluation` (markdown). `paths`: the uploaded files (an `adapter/` among them is mentioned).
    """
    template = card_template(config.get("model_type"))
    card_data = dict(card_data or {})
    bases = template.base_models(config)
    metadata = ModelCardData(
        model_name=repo_id.split("/")[-1],
        base_model=bases or None,
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=[*template.tags, *(card_data.pop("tags", None) or [])],
        **card_data,
    )
    settings = {label: config.get(key) for label, key in template.settings.items()} | (training or {})
    adapter = any(path.startswith("adapter/") for path in paths)
    values = {key: value for key, value in config.items() if not isinstance(value, dict | list)}
    values |= {
        "repo_id": repo_id,
        "num_parameters": f"{num_parameters:,}",
        "base_models": ", ".join(f"`{name}`" for name in bases) or "its base model",
        "adapter_note": " (merged; the LoRA adapter is in `adapter/`)" if adapter else "",
    }
    parts = ("description", "usage", "limitations", "citation")
    return CARD.substitute(
        {part: Template(getattr(template, part)).substitute(values) for part in parts},
        metadata=metadata.to_yaml(),
        repo_id=repo_id,
        settings="\n".join(f"| {name} | {_value(value)} |" for name, value in settings.items() if value),
        evaluation=evaluation or NO_EVALUATION,
    )


__all__ = ["CARDS", "CardTemplate", "card_template", "is_hub_id", "render_card"]
