"""SoftCoTProcessor: both tokenizers, the two prompts, thought placeholders and slots, labels and left padding.

Self-contained like the models (torch + transformers): `save_pretrained` copies it next to the tokenizers, so
`AutoProcessor.from_pretrained(folder, trust_remote_code=True)` works without this package.
"""

import json
import os

import torch
from transformers import AutoTokenizer, BatchEncoding, PreTrainedTokenizerBase, ProcessorMixin
from transformers.dynamic_module_utils import custom_object_save
from transformers.utils import PROCESSOR_NAME, cached_file

from .frozen_models import check_revision
from .thought_tokens import select_thought_tokens

# The paper's two prompts, in our words. `{question}` and `{num_thought_tokens}` are filled in; the assistant's N
# placeholders follow its prompt (after the chat template's generation prompt), the backbone's `{thoughts}` become
# `<start marker> N slots <end marker>`.
DEFAULT_ASSISTANT_TEMPLATE = (
    "Please generate {num_thought_tokens} tokens to help another language model solve the following question "
    "step by step.\n\nQuestion: {question}"
)
# = softcot_hf.data.prompts.build_prompt("{question}", WITH_THOUGHTS), written out so this file stays self-contained
# (tests/test_use_it_from.py checks they agree).
DEFAULT_BACKBONE_TEMPLATE = (
    "Solve the following question step by step, and give the final answer at the end.\n\nQuestion: {question}\n\n"
    "Here are prompts: {thoughts}"
)

# The fields each template may use.
ASSISTANT_TEMPLATE_FIELDS = ("question", "num_thought_tokens")
BACKBONE_TEMPLATE_FIELDS = ("question", "thoughts")

# The constructor's settings, as `processor_config.json` stores them.
SETTINGS = (
    "num_thought_tokens",
    "assistant_template",
    "backbone_template",
    "use_chat_template",
    "assistant_response_prefix",
    "add_generation_prompt",
)
# Each tokenizer's subfolder in a saved processor (named after the attribute, as `ProcessorMixin` names them).
TOKENIZER_FOLDERS = ("assistant_tokenizer", "backbone_tokenizer")
# `from_pretrained` options that say where files come from; they apply to the config and both tokenizers.
HUB_KWARGS = ("revision", "token", "cache_dir", "local_files_only", "force_download")


def left_pad(rows: list[list[int]], pad_value: int) -> torch.Tensor:
    """Left-pad lists of ids to one (batch, max_length) LongTensor."""
    width = max(len(row) for row in rows)
    return torch.tensor([[pad_value] * (width - len(row)) + row for row in rows], dtype=torch.long)


def _as_texts(name: str, texts) -> list:
    """`texts` as a list: a string is one text; anything else must be a list or tuple of them."""
    if isinstance(texts, str):
        return [texts]
    if not isinstance(texts, list | tuple):
        raise TypeError(
            f"{name} must be a string or a list of strings, got {type(texts).__name__}: e.g. processor(['What is 2 "
            "plus 3?'])."
        )
    return list(texts)


def _check_texts(name: str, texts: list) -> None:
    """A `TypeError` naming the first of `texts` that is not a string (`None` would be rendered as "None")."""
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            kind = "None" if text is None else type(text).__name__
            raise TypeError(f"{name} {index} is {kind}: pass each {name} as a string.")


def check_template(name: str, template: str, fields: tuple[str, ...]) -> None:
    """A `ValueError` naming `name` unless `template` is a `str.format` text whose fields are among `fields`."""
    allowed = ", ".join(f"{{{field}}}" for field in fields)
    if not isinstance(template, str):
        raise TypeError(f"{name} must be a string with the fields {allowed}, got {type(template).__name__}.")
    try:
        template.format(**dict.fromkeys(fields, ""))
    except KeyError as error:
        raise ValueError(
            f"{name} has the unknown field {{{error.args[0]}}}; it may use {allowed} only. Write a literal brace "
            "as {{ or }}."
        ) from None
    except (IndexError, ValueError) as error:
        raise ValueError(
            f"{name} is not a valid template ({error}); it may use the fields {allowed}, and a literal brace is "
            "written {{ or }}."
        ) from None


def _pad_id_avoiding(tokenizer: PreTrainedTokenizerBase, avoid: int) -> int:
    """A padding id of `tokenizer` different from the thought token `avoid`: pad, else EOS, else BOS, else 0."""
    candidates = (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id, 0)
    return next(i for i in candidates if i is not None and i != avoid)


def render_prompt_ids(
    tokenizer: PreTrainedTokenizerBase,
    text: str,
    use_chat_template: bool | None = None,
    add_generation_prompt: bool = True,
) -> list[int]:
    """
    Token ids of one prompt: the tokenizer's chat template as a user turn followed by the generation prompt (unless
    not `add_generation_prompt`) when `use_chat_template` (default: whether the tokenizer has one), else the plain
    text with its special tokens.
    """
    use_chat = tokenizer.chat_template is not None if use_chat_template is None else use_chat_template
    if use_chat:
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=add_generation_prompt
        )
        return tokenizer(rendered, add_special_tokens=False)["input_ids"]
    return tokenizer(text)["input_ids"]


class SoftCoTProcessor(ProcessorMixin):
    r"""
    Turns questions (and, for training, answers) into the inputs of [`SoftCoTForCausalLM`]:
    `input_ids`/`attention_mask` for the backbone, `assistant_input_ids`/`assistant_attention_mask` for the assistant,
    and `labels` (-100 on prompt, markers, slots and padding) when answers are given. Rows are left-padded.

    With `assistant_tokenizer=None` (Zero-Shot CoT-Unk, [`CoTUnkForCausalLM`]: trainable embeddings in the slots, no
    assistant) it returns the backbone's inputs (and labels) only; the slots are chosen by the same rule.

    Args:
        assistant_tokenizer / backbone_tokenizer: each side's own tokenizer (the families may differ); the assistant's
            may be `None` for a model without an assistant.
        num_thought_tokens (`int`, defaults to 4): N, as in the model's config.
        assistant_template / backbone_template (`str`, *optional*): prompts with `{question}` (and
            `{num_thought_tokens}`); the backbone's must contain `{thoughts}` where the slots go.
        use_chat_template (`bool`, *optional*): wrap each prompt in its tokenizer's chat template as a user turn
            followed by the generation prompt; defaults to whether the tokenizer has one.
        assistant_response_prefix (`str`, defaults to `""`): text that opens the assistant's reply (after the
            generation prompt), before the N placeholders, so the placeholders sit inside the reply after a lead-in.
        add_generation_prompt (`bool`, defaults to `True`): end the backbone's prompt with the chat template's
            generation prompt. The presets of `softcot_hf.data.prompts` (`prompt_preset`) set all four.
    """

    def __init__(
        self,
        assistant_tokenizer: PreTrainedTokenizerBase | None,
        backbone_tokenizer: PreTrainedTokenizerBase,
        num_thought_tokens: int = 4,
        assistant_template: str = DEFAULT_ASSISTANT_TEMPLATE,
        backbone_template: str = DEFAULT_BACKBONE_TEMPLATE,
        use_chat_template: bool | None = None,
        assistant_response_prefix: str = "",
        add_generation_prompt: bool = True,
        **kwargs,
    ):
        check_template("assistant_template", assistant_template, ASSISTANT_TEMPLATE_FIELDS)
        check_template("backbone_template", backbone_template, BACKBONE_TEMPLATE_FIELDS)
        if "{thoughts}" not in backbone_template:
            raise ValueError(
                "backbone_template must contain '{thoughts}', where the N thought slots go, e.g. "
                "'Question: {question}\\n\\nHere are prompts: {thoughts}'."
            )
        self.num_thought_tokens = num_thought_tokens
        self.assistant_template = assistant_template
        self.backbone_template = backbone_template
        self.use_chat_template = use_chat_template
        self.assistant_response_prefix = assistant_response_prefix
        self.add_generation_prompt = add_generation_prompt
        super().__init__(assistant_tokenizer, backbone_tokenizer, **kwargs)
        # Without an assistant only the backbone side of the rule matters (the placeholder found is never used).
        self.thought_tokens = select_thought_tokens(assistant_tokenizer or backbone_tokenizer, backbone_tokenizer)

    def check_argument_for_proper_class(self, argument_name: str, argument):
        """As `ProcessorMixin`, but the assistant tokenizer may be `None` (a model without an assistant)."""
        if argument_name == "assistant_tokenizer" and argument is None:
            return None
        return super().check_argument_for_proper_class(argument_name, argument)

    def to_dict(self) -> dict:
        """The settings `processor_config.json` holds: the constructor's options, the class name, the remote-code
        `auto_map` when there is one, and `"assistant_tokenizer": null` for a processor without an assistant."""
        output = {name: getattr(self, name) for name in SETTINGS}
        output["processor_class"] = type(self).__name__
        if getattr(self, "auto_map", None):
            output["auto_map"] = dict(self.auto_map)
        if self.assistant_tokenizer is None:
            output["assistant_tokenizer"] = None
        return output

    def save_pretrained(self, save_directory: str | os.PathLike, push_to_hub: bool = False, **kwargs) -> list[str]:
        """
        Write `processor_config.json`, each tokenizer in its own subfolder (`assistant_tokenizer/`,
        `backbone_tokenizer/`; no assistant folder for a model without one) and, for remote code, this file and its
        relative imports. Built on public APIs only (each tokenizer's `save_pretrained`, `custom_object_save`), so a
        transformers release that reorganises `ProcessorMixin` does not change what we write. With `push_to_hub`, the
        folder is then uploaded by `push_to_hub(repo_id, **kwargs)`.
        """
        os.makedirs(save_directory, exist_ok=True)
        if self._auto_class is not None:
            custom_object_save(self, save_directory, config=self)
        for name in TOKENIZER_FOLDERS:
            tokenizer = getattr(self, name)
            if tokenizer is not None:
                tokenizer.save_pretrained(os.path.join(save_directory, name))
        output_file = os.path.join(save_directory, PROCESSOR_NAME)
        self.to_json_file(output_file)
        if push_to_hub:
            repo_id = kwargs.pop("repo_id", os.path.basename(os.path.normpath(save_directory)))
            self.push_to_hub(repo_id, **kwargs)
        return [output_file]

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, subfolder: str = "", **kwargs
    ) -> "SoftCoTProcessor":
        """
        Load a processor that `save_pretrained` wrote (a local folder or a Hub repo): the settings from
        `processor_config.json`, each tokenizer with `AutoTokenizer.from_pretrained(..., subfolder=...)`. Hub options
        (`revision`, `token`, `cache_dir`, `local_files_only`, `force_download`) apply to every file; any other keyword
        that names a setting overrides the saved one (e.g. `num_thought_tokens=32`); the rest are ignored, as
        `ProcessorMixin` ignores them (`AutoProcessor` and `pipeline` pass model options such as `dtype` along).
        """
        hub_kwargs = {key: kwargs.pop(key) for key in HUB_KWARGS if key in kwargs}
        config_file = cached_file(pretrained_model_name_or_path, PROCESSOR_NAME, subfolder=subfolder, **hub_kwargs)
        with open(config_file, encoding="utf-8") as file:
            saved = json.load(file)
        tokenizers = {
            name: AutoTokenizer.from_pretrained(
                pretrained_model_name_or_path, subfolder=f"{subfolder}/{name}" if subfolder else name, **hub_kwargs
            )
            for name in TOKENIZER_FOLDERS
            if not (name in saved and saved[name] is None)
        }
        settings = {name: saved[name] for name in SETTINGS if name in saved} | {
            k: v for k, v in kwargs.items() if k in SETTINGS
        }
        return cls(tokenizers.get("assistant_tokenizer"), tokenizers["backbone_tokenizer"], **settings)

    @classmethod
    def from_assistant_and_backbone(
        cls,
        assistant: str | None,
        backbone: str,
        assistant_revision: str | None = None,
        backbone_revision: str | None = None,
        **kwargs,
    ) -> "SoftCoTProcessor":
        """Load each side's tokenizer from the same Hub id / path (and revision) as its model, as the model's builder
        does; `assistant=None` builds a processor without an assistant (CoT-Unk)."""
        for side, name_or_path, revision in (
            ("assistant", assistant, assistant_revision),
            ("backbone", backbone, backbone_revision),
        ):
            if name_or_path is not None:
                check_revision(side, name_or_path, revision)
        assistant_tokenizer = (
            None if assistant is None else AutoTokenizer.from_pretrained(assistant, revision=assistant_revision)
        )
        return cls(assistant_tokenizer, AutoTokenizer.from_pretrained(backbone, revision=backbone_revision), **kwargs)

    def assistant_prompt_ids(self, question: str) -> list[int]:
        """The assistant's prompt for one question, then `assistant_response_prefix` and its N placeholders."""
        tokenizer = self.assistant_tokenizer
        text = self.assistant_template.format(question=question, num_thought_tokens=self.num_thought_tokens)
        ids = render_prompt_ids(tokenizer, text, self.use_chat_template)
        if self.assistant_response_prefix:
            ids += tokenizer(self.assistant_response_prefix, add_special_tokens=False)["input_ids"]
        return ids + [self.thought_tokens.assistant_placeholder_id] * self.num_thought_tokens

    def backbone_prompt_ids(self, question: str) -> list[int]:
        """The backbone's prompt for one question, with start marker, N slots and end marker at `{thoughts}`."""
        tokens = self.thought_tokens
        thoughts = (tokens.backbone_start or "") + tokens.backbone_slot * self.num_thought_tokens
        thoughts += tokens.backbone_end or ""
        text = self.backbone_template.format(question=question, thoughts=thoughts)
        ids = render_prompt_ids(self.backbone_tokenizer, text, self.use_chat_template, self.add_generation_prompt)
        if (count := ids.count(tokens.backbone_slot_id)) != self.num_thought_tokens:
            raise ValueError(
                f"The backbone prompt holds {count} thought slots instead of {self.num_thought_tokens}: "
                f"backbone_template holds the slot token's text ({tokens.backbone_slot!r}) or changes how it is "
                "tokenized. Write {thoughts} once, with spaces or words around it, and no slot token text."
            )
        return ids

    def check_reserved_tokens(self, name: str, texts: list[str]) -> None:
        """A `ValueError` naming the first of `texts` that holds the text of a token reserved for the soft thoughts
        (the tokenizer would read it as that token, adding a placeholder, a slot or a marker)."""
        tokens = self.thought_tokens
        reserved = {
            tokens.backbone_slot: "the backbone's thought slot",
            tokens.backbone_start: "the marker before the thought slots",
            tokens.backbone_end: "the marker after the thought slots",
        }
        if self.assistant_tokenizer is not None:
            reserved[tokens.assistant_placeholder] = "the assistant's thought placeholder"
        for index, text in enumerate(texts):
            for token, role in reserved.items():
                if token and token in text:
                    raise ValueError(
                        f"{name} {index} contains {token!r}, {role}: the tokenizer reads that text as the token, "
                        f"which is reserved for the soft thoughts. Remove it from the {name} first (e.g. "
                        f"`text.replace({token!r}, '')`)."
                    )

    @property
    def backbone_pad_token_id(self) -> int:
        """The id backbone rows are padded with: never the slot token, so padding never looks like a thought."""
        return _pad_id_avoiding(self.backbone_tokenizer, self.thought_tokens.backbone_slot_id)

    @property
    def assistant_pad_token_id(self) -> int | None:
        """The id assistant rows are padded with: never the placeholder token (`None` without an assistant)."""
        if self.assistant_tokenizer is None:
            return None
        return _pad_id_avoiding(self.assistant_tokenizer, self.thought_tokens.assistant_placeholder_id)

    def __call__(
        self,
        questions: str | list[str],
        answers: str | list[str] | None = None,
        return_tensors: str | None = "pt",
    ) -> BatchEncoding:
        """
        Returns `input_ids`, `attention_mask` (batch, length), `assistant_input_ids`, `assistant_attention_mask`
        (batch, assistant_length; left out without an assistant tokenizer) and, when `answers` are given, `labels`
        (batch, length): the answer tokens and the backbone's EOS after the prompt, -100 elsewhere. Answers are
        appended for training; leave them out to generate.
        `return_tensors`: `"pt"` (torch tensors), `"np"` (numpy arrays) or `None` (lists of ints).
        """
        if return_tensors not in ("pt", "np", None):
            raise ValueError(f"return_tensors={return_tensors!r} is not supported: use 'pt', 'np' or None (lists).")
        questions = _as_texts("questions", questions)
        if not questions:
            raise ValueError("Pass at least one question.")
        _check_texts("question", questions)
        self.check_reserved_tokens("question", questions)
        if answers is not None:
            answers = _as_texts("answers", answers)
            if len(answers) != len(questions):
                raise ValueError(f"Got {len(questions)} questions but {len(answers)} answers: pass one answer each.")
            _check_texts("answer", answers)
            self.check_reserved_tokens("answer", answers)
        backbone_rows = [self.backbone_prompt_ids(question) for question in questions]
        label_rows = None
        if answers is not None:
            eos = self.backbone_tokenizer.eos_token_id
            targets = [self.backbone_tokenizer(a, add_special_tokens=False)["input_ids"] + [eos] for a in answers]
            label_rows = [[-100] * len(prompt) + target for prompt, target in zip(backbone_rows, targets, strict=True)]
            backbone_rows = [prompt + target for prompt, target in zip(backbone_rows, targets, strict=True)]

        data = {
            "input_ids": left_pad(backbone_rows, self.backbone_pad_token_id),
            "attention_mask": left_pad([[1] * len(row) for row in backbone_rows], 0),
        }
        if self.assistant_tokenizer is not None:
            assistant_rows = [self.assistant_prompt_ids(question) for question in questions]
            data["assistant_input_ids"] = left_pad(assistant_rows, self.assistant_pad_token_id)
            data["assistant_attention_mask"] = left_pad([[1] * len(row) for row in assistant_rows], 0)
        if label_rows is not None:
            data["labels"] = left_pad(label_rows, -100)
        if return_tensors is None:
            data = {key: value.tolist() for key, value in data.items()}
        elif return_tensors == "np":
            data = {key: value.numpy() for key, value in data.items()}
        return BatchEncoding(data)

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        """The backbone tokenizer: the one that reads and writes the text a model generates (what `Trainer` and
        pipelines look for under this name)."""
        return self.backbone_tokenizer

    def batch_decode(self, *args, **kwargs) -> list[str]:
        """The backbone tokenizer's `batch_decode`."""
        return self.backbone_tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args, **kwargs) -> str:
        """The backbone tokenizer's `decode`."""
        return self.backbone_tokenizer.decode(*args, **kwargs)


SoftCoTProcessor.register_for_auto_class("AutoProcessor")

__all__ = [
    "ASSISTANT_TEMPLATE_FIELDS",
    "BACKBONE_TEMPLATE_FIELDS",
    "DEFAULT_ASSISTANT_TEMPLATE",
    "DEFAULT_BACKBONE_TEMPLATE",
    "SoftCoTProcessor",
    "check_template",
    "left_pad",
    "render_prompt_ids",
]
