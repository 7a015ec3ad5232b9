import textwrap
from pathlib import Path

import pytest
from tiny import save_pair

from softcot_hf import SoftCoTForCausalLM, SoftCoTProcessor

# Blocks `import softcot_hf` in a process: what someone who never installed the package has.
BLOCK_PACKAGE = textwrap.dedent(
    """
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "softcot_hf" or name.startswith("softcot_hf."):
                raise ImportError("softcot_hf is not installed in this process")
    sys.meta_path.insert(0, Block())
    """
)

QUESTIONS = [
    "what is 2 plus 3 ?",
    "tom has 4 apples and eats 1 . how many apples does tom have left ?",
    "what is 7 minus 2 times 3 ?",
]


@pytest.fixture(scope="session")
def pair_dirs(tmp_path_factory) -> dict[str, str]:
    """Saved tiny models: Llama-family pairs, a Qwen-shaped assistant, and GPT-2-shaped models (absolute positions,
    a tokenizer with no reserved tokens, so the backbone's slot token is added beyond its embedding table)."""
    root = Path(tmp_path_factory.mktemp("models"))
    return {
        "llama_assistant": save_pair(root, "llama", 24, seed=1, name="llama-assistant"),
        "llama_backbone": save_pair(root, "llama", 32, seed=2, name="llama-backbone"),
        "qwen_assistant": save_pair(root, "qwen", 16, seed=3, name="qwen-assistant"),
        "llama_backbone_wide": save_pair(root, "llama", 48, seed=4, name="llama-backbone-wide"),
        "gpt2_assistant": save_pair(root, "plain", 16, seed=5, name="gpt2-assistant"),
        "gpt2_backbone": save_pair(root, "plain", 32, seed=6, name="gpt2-backbone"),
    }


def build(pair_dirs, assistant: str = "llama_assistant", backbone: str = "llama_backbone", seed: int = 0, **kwargs):
    """A SoftCoT model (projection seeded) and the processor over the same tokenizers."""
    import torch

    torch.manual_seed(seed)
    model = SoftCoTForCausalLM.from_assistant_and_backbone(pair_dirs[assistant], pair_dirs[backbone], **kwargs)
    processor = SoftCoTProcessor.from_assistant_and_backbone(
        pair_dirs[assistant], pair_dirs[backbone], num_thought_tokens=model.config.num_thought_tokens
    )
    return model, processor


def backbone_inputs_embeds(model, **inputs):
    """The (batch, length, hidden) embeddings a SoftCoT / CoT-Unk forward over `inputs` hands its backbone."""
    import torch

    captured = {}
    hook = model.backbone.register_forward_pre_hook(lambda _, args, kwargs: captured.update(kwargs), with_kwargs=True)
    try:
        with torch.no_grad():
            model(**inputs)
    finally:
        hook.remove()
    return captured["inputs_embeds"]
