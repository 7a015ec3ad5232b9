"""CODI's projection of a continuous thought (Shen et al., arXiv 2502.21074, section 3.3): the last hidden state goes
through a two-layer MLP with a LayerNorm before it is fed back as the next input embedding. Written from the paper's
text; the layer order (Linear, GELU, Linear, LayerNorm) and the width (the LM's hidden size throughout) are our choice
where the paper leaves them open."""

import torch


class LatentProjection(torch.nn.Module):
    """(..., hidden_size) last hidden states -> (..., hidden_size) input embeddings of the next thoughts."""

    def __init__(self, hidden_size: int, eps: float = 1e-5):
        super().__init__()
        self.up = torch.nn.Linear(hidden_size, hidden_size)
        self.activation = torch.nn.GELU()
        self.down = torch.nn.Linear(hidden_size, hidden_size)
        self.norm = torch.nn.LayerNorm(hidden_size, eps=eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.norm(self.down(self.activation(self.up(hidden_states))))


__all__ = ["LatentProjection"]
