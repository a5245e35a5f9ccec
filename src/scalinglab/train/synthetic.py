"""A synthetic Zipfian language with learnable structure, for fast tests and demos.

The language is a random sparse second-order Markov chain. Every token t has K successors,
drawn (with replacement) from a Zipfian unigram distribution p(v) ~ 1 / (v + 1)^s over the
vocabulary; the next token given the previous two (a, b) is, with probability 1 - MIX, the
successor of b at rank r and otherwise the successor at rank r of a hashed context (a, b),
where the rank r is drawn from a Zipf law P(r) ~ 1 / (r + 1)^s over the K ranks. Word
frequencies in natural language follow Zipf's law (Zipf 1935; Piantadosi 2014, Psychon. Bull.
Rev. 21:1112); the point here is only that the next-token distribution is heavy-tailed and
depends on context of two tokens, so a bigger model (more capacity for the V x K bigram and
hashed trigram tables) and more data both lower the loss, down to the chain's entropy rate.

Sampling is vectorised over ``CHAINS`` independent chains stepped together (a Python loop over
positions, numpy over chains); the chains are concatenated into one stream, the last tenth of
them held out. Everything is drawn from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

SUCCESSORS = 4  # K: successors per context
ZIPF_S = 1.1  # Zipf exponent of unigram and rank distributions
MIX = 0.2  # probability that the hashed two-token context decides the next token
CHAINS = 512  # independent chains sampled together
HELD_OUT = 0.1  # fraction of chains held out for validation


def _zipf(n: int) -> NDArray[np.float64]:
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** ZIPF_S
    out: NDArray[np.float64] = w / w.sum()
    return out


def _successor_table(
    rows: int, vocab: int, rng: np.random.Generator
) -> NDArray[np.int64]:  # (rows, K)
    # drawn with replacement (a repeated successor just pools its ranks' probability): the
    # cost stays rows x K for any vocabulary size
    table: NDArray[np.int64] = rng.choice(vocab, size=(rows, SUCCESSORS), p=_zipf(vocab))
    return table


def generate(vocab: int, tokens: int, seed: int) -> tuple[NDArray[np.uint32], NDArray[np.uint32]]:
    """(train, val) token streams of the synthetic language; about ``tokens`` in total."""
    rng = np.random.default_rng(seed)
    bigram = _successor_table(vocab, vocab, rng)  # (V, K)
    n_hash = 4 * vocab
    trigram = _successor_table(n_hash, vocab, rng)  # (4V, K)
    k = SUCCESSORS
    rank_p = _zipf(k)
    length = -(-tokens // CHAINS)  # tokens per chain, rounded up
    out = np.empty((CHAINS, length), dtype=np.int64)  # (chains, positions)
    prev2 = rng.integers(0, vocab, size=CHAINS)
    prev1 = rng.integers(0, vocab, size=CHAINS)
    for pos in range(length):
        rank = rng.choice(k, size=CHAINS, p=rank_p)
        use_context = rng.random(CHAINS) < MIX
        ctx = (prev2 * 1_000_003 + prev1 * 7_919) % n_hash  # hashed (a, b) context
        nxt = np.where(use_context, trigram[ctx, rank], bigram[prev1, rank])
        out[:, pos] = nxt
        prev2, prev1 = prev1, nxt
    n_val = max(1, round(HELD_OUT * CHAINS))
    train = out[:-n_val].reshape(-1).astype(np.uint32)
    val = out[-n_val:].reshape(-1).astype(np.uint32)
    return train, val
