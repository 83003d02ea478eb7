"""The training losses: multi-positive InfoNCE over a sample's segments, the memory loss, the regulariser."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def contrastive_loss(
    query: torch.Tensor, segments: torch.Tensor, positives: list[int], tau: float, length_weighting: bool = True
) -> torch.Tensor:
    """L_con = (log(N+1) / P) * sum_i -log(e^{q.p_i/tau} / (e^{q.p_i/tau} + sum_j e^{q.n_j/tau})).

    Each positive competes with all the negatives of the sample (not with the other positives).
    Without length weighting the scale is 1/P.
    """
    sims = segments @ query / tau
    is_positive = torch.zeros(segments.shape[0], dtype=torch.bool, device=segments.device)
    is_positive[positives] = True
    negatives = torch.logsumexp(sims[~is_positive], dim=0) if (~is_positive).any() else sims.new_tensor(-math.inf)
    positive_sims = sims[is_positive]
    denominators = torch.logaddexp(positive_sims, negatives.expand_as(positive_sims))
    total = (denominators - positive_sims).sum()
    scale = math.log(segments.shape[0] + 1) if length_weighting else 1.0
    return scale * total / len(positives)


def memory_loss(
    readouts: torch.Tensor,
    answer_targets: torch.Tensor,
    tau: float,
    rows: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Encoder-backbone L_mem: the frozen base reading [memory; query] must point at its own answer.

    ``readouts`` (m, D) come from the base model with the memory; ``answer_targets`` (B, D) are the frozen base
    embeddings of the batch's answers, readout i's own being row ``rows[i]`` (default: i). InfoNCE against the
    other answers of the batch (identical answers are not counted as negatives).
    """
    rows = torch.arange(len(readouts), device=readouts.device) if rows is None else rows
    logits = readouts @ answer_targets.T / tau
    same = (answer_targets[rows] @ answer_targets.T) > 0.999
    own = F.one_hot(rows, len(answer_targets)).bool()
    logits = logits.masked_fill(same & ~own, -1e4)
    return F.cross_entropy(logits, rows, reduction=reduction)


def static_regulariser(vectors: torch.Tensor, static_targets: torch.Tensor) -> torch.Tensor:
    """Mean (1 - cosine) between evolvable vectors (read with memory) and the frozen static embeddings.

    It keeps the memory a modulation of the static meaning rather than a replacement, so what the model learns
    on synthetic families does not overwrite how it embeds plain text.
    """
    return (1 - (vectors * static_targets).sum(-1)).mean()
