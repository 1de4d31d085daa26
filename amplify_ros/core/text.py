"""Task-sentence encoder: a sentence becomes one token for the forward model.

The paper used a frozen T5; no such model can be fetched here. The default is a bag of learned
word embeddings over the words seen in training (the vocabulary is saved in the model config),
which handles rephrasings built from known words. Anything with ``encode(sentences) -> (B, D)``
can stand in for it.
"""

from __future__ import annotations

import re

import torch
from torch import nn

UNKNOWN = "<unk>"


def words(sentence: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", sentence.lower())


def build_vocab(sentences: list[str]) -> list[str]:
    """Sorted distinct words of ``sentences``, after the unknown-word marker."""
    return [UNKNOWN] + sorted({w for s in sentences for w in words(s)})


class WordBagEncoder(nn.Module):
    def __init__(self, vocab: list[str], dim: int) -> None:
        super().__init__()
        if not vocab or vocab[0] != UNKNOWN:
            raise ValueError(f"vocab must start with {UNKNOWN!r} (use build_vocab)")
        self.vocab = list(vocab)
        self._index = {w: i for i, w in enumerate(vocab)}
        self.embed = nn.EmbeddingBag(len(vocab), dim, mode="mean")
        nn.init.normal_(self.embed.weight, std=0.02)

    def token_ids(self, sentence: str) -> list[int]:
        return [self._index.get(w, 0) for w in words(sentence)] or [0]

    def forward(self, sentences: list[str]) -> torch.Tensor:
        """B sentences -> (B, D)."""
        ids = [self.token_ids(s) for s in sentences]
        flat = torch.tensor([i for seq in ids for i in seq], device=self.embed.weight.device)
        offsets = torch.tensor([0] + [len(seq) for seq in ids[:-1]], device=flat.device).cumsum(0)
        return self.embed(flat, offsets)
