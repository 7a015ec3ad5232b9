"""SoftCoT++ (Xu et al., arXiv 2505.11484): M soft-thought sets per question.

The frozen assistant reads its N placeholders with M different initial embeddings: set m writes its vector `v_m` at
all N placeholder positions (instead of the placeholder token's own embedding), so the same question gives M
different sets of N soft thoughts, and the backbone generates once per set. The M vectors are a small fp32 parameter
held by the projection module (`projection.thought_sets.embeddings`), so checkpoints keep only the trained part.

With M = 1 there are no set vectors at all: the model is SoftCoT, bit for bit.

Row layout everywhere: a batch of B questions becomes B x M rows ordered (question, set) by `expand_for_thought_sets`,
with `thought_set_ids` (B x M,) naming each row's set; `generate`'s `num_return_sequences` K then gives rows ordered
(question, set, sample).
"""

import torch
from torch import nn

# Keys of a model's inputs that hold one row per question (repeated once per set by `expand_for_thought_sets`).
ROW_INPUTS = (
    "input_ids",
    "attention_mask",
    "position_ids",
    "labels",
    "assistant_input_ids",
    "assistant_attention_mask",
)
# Two set vectors closer than this (relative to their norm), or a vector shorter than this fraction of the embedding
# table's median row norm, would make sets that are (nearly) the same set or carry no signal.
MIN_RELATIVE_DISTANCE = 1e-2
MIN_RELATIVE_NORM = 1e-2


class SoftCoTThoughtSets(nn.Module):
    """The M set vectors, (M, assistant_hidden_size) in fp32; row m is what the assistant reads at its placeholders
    for set m. Filled by `initialize_thought_sets` (or loaded); zeros until then."""

    def __init__(self, num_sets: int, hidden_size: int):
        super().__init__()
        # Frozen unless `add_thought_sets(..., trainable=True)`: the official behaviour.
        self.embeddings = nn.Parameter(torch.zeros(num_sets, hidden_size, dtype=torch.float32), requires_grad=False)

    @property
    def trainable(self) -> bool:
        return self.embeddings.requires_grad

    def forward(
        self, inputs_embeds: torch.Tensor, placeholder_mask: torch.BoolTensor, thought_set_ids: torch.LongTensor
    ) -> torch.Tensor:
        """(batch, length, d) assistant input embeddings -> the same with row b's set vector at its placeholders."""
        vectors = self.embeddings[thought_set_ids].to(inputs_embeds.dtype)  # (batch, d)
        return torch.where(placeholder_mask.unsqueeze(-1), vectors.unsqueeze(1), inputs_embeds)


def check_thought_set_ids(thought_set_ids: torch.Tensor, batch_size: int, num_sets: int) -> None:
    """Fail clearly unless `thought_set_ids` is (batch_size,) integers in [0, num_sets)."""
    if thought_set_ids.shape != (batch_size,) or thought_set_ids.is_floating_point():
        raise ValueError(
            f"thought_set_ids must be a (batch,) = ({batch_size},) integer tensor naming each row's thought set; got "
            f"{tuple(thought_set_ids.shape)} {thought_set_ids.dtype}. expand_for_thought_sets(inputs, M) builds it."
        )
    if batch_size and (thought_set_ids.min() < 0 or thought_set_ids.max() >= num_sets):
        raise ValueError(
            f"thought_set_ids hold {thought_set_ids.tolist()}, but this model has num_thought_sets={num_sets}: "
            f"each id must lie in [0, {num_sets})."
        )


def assistant_inputs_with_sets(
    model, input_ids: torch.LongTensor, placeholder_mask: torch.BoolTensor, thought_set_ids: torch.Tensor | None
) -> dict[str, torch.Tensor]:
    """What the assistant reads: `input_ids` for a one-set model, else `inputs_embeds` (batch, length, d_assistant)
    holding each row's set vector at its placeholders."""
    thought_sets = getattr(model.projection, "thought_sets", None)
    if thought_sets is None:
        if thought_set_ids is not None:
            raise ValueError("thought_set_ids were given, but this model has one thought set (num_thought_sets=1).")
        return {"input_ids": input_ids}
    if thought_set_ids is None:
        raise ValueError(
            f"This model has num_thought_sets={model.config.num_thought_sets}: each assistant row needs its set. "
            "Pass thought_set_ids (batch,), e.g. model(**expand_for_thought_sets(inputs, M)); generate() expands "
            "the inputs itself."
        )
    check_thought_set_ids(thought_set_ids, input_ids.shape[0], model.config.num_thought_sets)
    embeds = model.assistant.get_input_embeddings()(input_ids)
    return {"inputs_embeds": thought_sets(embeds, placeholder_mask, thought_set_ids.to(input_ids.device))}


def assistant_needs_grad(model) -> bool:
    """Whether the assistant forward must keep its graph: only to train the set vectors through it."""
    thought_sets = getattr(model.projection, "thought_sets", None)
    return thought_sets is not None and thought_sets.trainable and torch.is_grad_enabled()


def dropout_copy(states: torch.Tensor, p: float) -> torch.Tensor:
    """`states` with each element zeroed with probability `p` and the rest scaled by 1 / (1 - p); the mask is
    `torch.rand(states.shape) >= p` from the global RNG, on the states' device. SoftCoT++'s contrastive positives are
    such copies."""
    if p == 0:
        return states
    keep = torch.rand(states.shape, device=states.device) >= p
    return states * keep / (1 - p)


def expand_for_thought_sets(inputs: dict, num_sets: int) -> dict:
    """
    The inputs of B questions as B x M rows ordered (question, set): each per-question tensor (`ROW_INPUTS`) repeated
    M times, `assistant_hidden_states` (B, M, N, d) flattened to (B x M, N, d), and `thought_set_ids` (B x M,) added.
    Other entries pass through.
    """
    expanded = dict(inputs)
    rows = next((inputs[key] for key in ("input_ids", "assistant_input_ids") if inputs.get(key) is not None), None)
    states = inputs.get("assistant_hidden_states")
    if states is not None:
        if states.dim() != 4 or states.shape[1] != num_sets:
            raise ValueError(
                f"assistant_hidden_states of a model with {num_sets} thought sets must be (batch, M={num_sets}, N, "
                f"d_assistant), one set of states per thought set; got {tuple(states.shape)}."
            )
        expanded["assistant_hidden_states"] = states.flatten(0, 1)
        batch_size = states.shape[0]
    elif rows is not None:
        batch_size = rows.shape[0]
    else:
        raise ValueError("Nothing to expand: pass input_ids or assistant inputs.")
    for key in ROW_INPUTS:
        if inputs.get(key) is not None:
            expanded[key] = inputs[key].repeat_interleave(num_sets, dim=0)
    device = rows.device if rows is not None else states.device
    expanded["thought_set_ids"] = torch.arange(num_sets, device=device).repeat(batch_size)
    return expanded


def thought_set_vectors_from_tokens(
    embedding_weight: torch.Tensor, token_ids: list[int], check: bool = True
) -> torch.Tensor:
    """(M, d) fp32 copies of the assistant embedding rows `token_ids`, checked by `check_thought_set_vectors` unless
    `check=False` (the caller then judges `thought_set_vector_problems` itself)."""
    vocab_size = embedding_weight.shape[0]
    if bad := [token for token in token_ids if not 0 <= token < vocab_size]:
        raise ValueError(
            f"Thought set token ids {bad} lie outside the assistant's embedding table ({vocab_size} rows)."
        )
    vectors = embedding_weight.detach()[torch.tensor(token_ids)].float().clone()
    if check:
        check_thought_set_vectors(vectors, embedding_weight, names=[f"token {token}" for token in token_ids])
    return vectors


def random_thought_set_vectors(
    embedding_weight: torch.Tensor, num_sets: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(M, d) fp32 vectors drawn from a normal with the embedding table's per-dimension mean and std."""
    table = embedding_weight.detach().float().cpu()
    noise = torch.randn(num_sets, table.shape[1], generator=generator)
    vectors = table.mean(0) + table.std(0) * noise
    check_thought_set_vectors(vectors, embedding_weight, names=[f"random set {m}" for m in range(num_sets)])
    return vectors


def thought_set_vector_problems(vectors: torch.Tensor, embedding_weight: torch.Tensor, names: list[str]) -> list[str]:
    """What would make these (M, d) set vectors collapse into fewer sets: vectors near zero (shorter than
    MIN_RELATIVE_NORM x the table's median row norm) or (nearly) identical pairs (closer than MIN_RELATIVE_DISTANCE x
    the longer one). Untrained reserved-token rows (LLaMA-3's, for instance) can look like this. Empty: none."""
    problems = []
    norms = vectors.norm(dim=1)
    typical = embedding_weight.detach().float().norm(dim=1).median().item()
    if short := [name for name, norm in zip(names, norms.tolist(), strict=True) if norm < MIN_RELATIVE_NORM * typical]:
        problems.append(
            f"the vectors of {short} are near zero (norm below {MIN_RELATIVE_NORM} x the assistant embedding table's "
            f"median row norm {typical:.3g}): probably untrained rows"
        )
    distances = torch.cdist(vectors[None].double(), vectors[None].double())[0]
    scale = torch.maximum(norms[:, None], norms[None, :]).double()
    if close := (distances < MIN_RELATIVE_DISTANCE * scale).triu(diagonal=1).nonzero().tolist():
        problems.append(
            f"the vectors of {[(names[i], names[j]) for i, j in close]} are (nearly) identical (closer than "
            f"{MIN_RELATIVE_DISTANCE} x their norm), so those sets would write the same soft thoughts"
        )
    return problems


def check_thought_set_vectors(vectors: torch.Tensor, embedding_weight: torch.Tensor, names: list[str]) -> None:
    """Refuse set vectors that would collapse into fewer sets (`thought_set_vector_problems`)."""
    if problems := thought_set_vector_problems(vectors, embedding_weight, names):
        raise ValueError(
            f"Thought set vectors refused: {'; '.join(problems)}. Choose distinct trained tokens, or "
            "thought_set_init='random'."
        )


def add_thought_sets(model, vectors: torch.Tensor, trainable: bool = False) -> None:
    """
    Give a one-set SoftCoT `model` the M = len(vectors) >= 2 thought sets `vectors` (M, d_assistant): sets
    `config.num_thought_sets` and the fp32 parameter `projection.thought_sets.embeddings` (saved with the projection).
    `trainable=True` lets the set vectors learn through the frozen assistant (the official code declares them trainable
    but never gives them a gradient: off by default, a deviation when on).
    """
    num_sets, hidden_size = vectors.shape
    if num_sets < 2:
        raise ValueError(f"add_thought_sets needs at least 2 set vectors, got {num_sets}; one set is plain SoftCoT.")
    if getattr(model.projection, "thought_sets", None) is not None:
        raise ValueError("This model already has thought sets.")
    if hidden_size != model.config.assistant_config.hidden_size:
        raise ValueError(
            f"Set vectors have {hidden_size} dimensions; the assistant's hidden size is "
            f"{model.config.assistant_config.hidden_size}."
        )
    thought_sets = SoftCoTThoughtSets(num_sets, hidden_size).to(model.projection.linear_1.weight.device)
    with torch.no_grad():
        thought_sets.embeddings.copy_(vectors)
    thought_sets.embeddings.requires_grad_(trainable)
    model.projection.thought_sets = thought_sets
    model.config.num_thought_sets = num_sets


__all__ = [
    "SoftCoTThoughtSets",
    "add_thought_sets",
    "assistant_inputs_with_sets",
    "assistant_needs_grad",
    "check_thought_set_ids",
    "check_thought_set_vectors",
    "dropout_copy",
    "expand_for_thought_sets",
    "random_thought_set_vectors",
    "thought_set_vector_problems",
    "thought_set_vectors_from_tokens",
]
