"""`pipeline("text-generation")` for SoftCoT: the processor builds both sides' inputs from each text, so the backbone
always reads soft thoughts. A saved SoftCoT config names this class under `custom_pipelines`, so

    pipeline("text-generation", model="my-softcot", trust_remote_code=True)

loads it from the checkpoint (with or without this package installed). For a model object, pass the processor and
`pipeline_class=SoftCoTTextGenerationPipeline`.
"""

from transformers import TextGenerationPipeline


class SoftCoTTextGenerationPipeline(TextGenerationPipeline):
    """
    Text generation with soft thoughts. Each input is a question (a string; chat messages are not supported): the
    processor writes the assistant's prompt with N placeholders and the backbone's prompt with N slots, and
    `generate` receives both. Batching (`batch_size=`) left-pads both sides; output is the backbone's text, as in
    `TextGenerationPipeline` (`return_full_text=False` keeps only the answer).
    """

    _load_processor = True
    _load_tokenizer = False

    def __init__(self, *args, **kwargs):
        processor = kwargs.get("processor")
        if processor is None or not hasattr(processor, "assistant_prompt_ids"):
            raise ValueError(
                "A SoftCoT pipeline needs the model's SoftCoTProcessor: pipeline('text-generation', model=FOLDER, "
                "trust_remote_code=True) loads it from a saved folder; for a model object pass processor=processor."
            )
        kwargs["tokenizer"] = processor.backbone_tokenizer
        super().__init__(*args, **kwargs)
        # `pad_collate_fn` pads every key of a batch with the tokenizer's pad id: make it the processor's backbone
        # pad, which is never the slot token (assistant rows are padded with 0, under a zero attention mask).
        self.tokenizer.pad_token_id = processor.backbone_pad_token_id

    def preprocess(self, prompt_text, prefix: str = "", **kwargs):
        """Both sides' inputs (1, length) for one question; `prefix` is prepended to it."""
        if not isinstance(prompt_text, str):
            raise ValueError("The SoftCoT pipeline takes questions as strings (or a list of them), not chat messages.")
        inputs = self.processor(prefix + prompt_text)
        inputs["prompt_text"] = prompt_text
        return inputs

    def _forward(self, model_inputs, **generate_kwargs):
        """As `TextGenerationPipeline._forward`, with the assistant inputs handed to `generate` too."""
        assistant = {name: model_inputs.pop(name) for name in ("assistant_input_ids", "assistant_attention_mask")}
        return super()._forward(model_inputs, **assistant, **generate_kwargs)


__all__ = ["SoftCoTTextGenerationPipeline"]
