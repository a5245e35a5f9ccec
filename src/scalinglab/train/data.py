"""Training corpora: load a corpus spec into train and held-out token streams, and batch them.

Corpus specs (``TrainConfig.data``):

* ``"synthetic:zipf"``, optionally ``"synthetic:zipf?vocab=512&tokens=1000000&seed=0"``: the
  synthetic Zipfian language of :mod:`scalinglab.train.synthetic` (vocab defaults to the
  ``vocab_size`` asked for, tokens to 1,000,000, seed to 0). No tokenizer, no cache.
* ``"text:PATH"``: a UTF-8 text file (``.gz`` allowed) or a folder of ``.txt`` files.
* ``"english"``: about 5.4 MB of English prose from Debian packages (see
  :mod:`scalinglab.train.text`), installed by ``scripts/setup train``.

Text corpora are tokenised with a byte-level BPE of ``vocab_size`` tokens trained on their
training split and cached under ``cache_dir`` (default ``$SCALINGLAB_CACHE``, else
``~/.cache/scalinglab``). Token ids are ``uint16`` when the vocabulary fits, else ``uint32``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
from numpy.typing import NDArray

from scalinglab.errors import DataError
from scalinglab.train import synthetic, text

CACHE_ENV = "SCALINGLAB_CACHE"
SPECS = ("synthetic:zipf", "text:PATH", "english")
_SYNTHETIC_KEYS = ("vocab", "tokens", "seed")


@dataclass(frozen=True, eq=False)
class Corpus:
    """Token streams of one corpus.

    ``train``/``val``: token ids (uint16 or uint32); ``vocab_size``: tokens the ids may take;
    ``unique_tokens``: tokens in the training split (U_D of Muennighoff et al. 2023,
    arXiv:2305.16264: training longer than this repeats data); ``sha256``: hash of the corpus
    text (of the token stream for the synthetic language); ``tokenizer``: cache folder of the
    BPE tokenizer, None for the synthetic language.
    """

    name: str
    train: NDArray[np.generic]
    val: NDArray[np.generic]
    vocab_size: int
    sha256: str
    tokenizer: Path | None = None
    sources: tuple[str, ...] = field(default=())

    @property
    def unique_tokens(self) -> int:
        return int(self.train.size)

    def get_batch(
        self, split: str, batch_size: int, seq_len: int, rng: np.random.Generator
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(inputs, targets), each (batch_size, seq_len) int64: random windows of ``split``
        ("train" or "val"), targets shifted by one token."""
        data = self._split(split, seq_len)
        starts = rng.integers(0, data.size - seq_len, size=batch_size)  # (B,)
        idx = starts[:, None] + np.arange(seq_len + 1)[None, :]  # (B, T+1)
        window = data[idx].astype(np.int64)  # (B, T+1)
        return window[:, :-1], window[:, 1:]

    def heldout(self, seq_len: int, tokens: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The fixed evaluation set: consecutive, non-overlapping windows from the start of the
        held-out split, ``min(tokens, what the split holds)`` target tokens in all; each
        (n_windows, seq_len) int64."""
        data = self._split("val", seq_len)
        n = max(1, min(tokens, data.size - 1) // seq_len)
        x = data[: n * seq_len].astype(np.int64).reshape(n, seq_len)  # (n, T)
        y = data[1 : n * seq_len + 1].astype(np.int64).reshape(n, seq_len)  # (n, T)
        return x, y

    def _split(self, split: str, seq_len: int) -> NDArray[np.generic]:
        if split not in ("train", "val"):
            raise DataError(f"split must be 'train' or 'val', got {split!r}.")
        data = self.train if split == "train" else self.val
        if data.size < seq_len + 1:
            raise DataError(
                f"corpus {self.name!r}: the {split} split holds {data.size} tokens, fewer than "
                f"one sequence of seq_len + 1 = {seq_len + 1}. Use more text or a shorter seq_len."
            )
        return data


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "scalinglab"


def load_corpus(spec: str, *, vocab_size: int, cache_dir: Path | None = None) -> Corpus:
    """Load the corpus named by ``spec`` (see the module docstring) for a model of
    ``vocab_size`` tokens. :class:`DataError` for an unknown spec, a missing path, an empty
    corpus or a vocabulary too small for the corpus."""
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    if spec == "synthetic:zipf" or spec.startswith("synthetic:zipf?"):
        return _synthetic(spec, vocab_size)
    if spec.startswith("text:"):
        path = spec[len("text:") :]
        if not path:
            raise DataError("corpus 'text:' names no path; write text:PATH (a file or folder).")
        raw, files = text.read_text_path(path)
        name = Path(path).expanduser().resolve().name or "text"
    elif spec == "english":
        raw, files = text.read_english()
        name = "english"
    else:
        raise DataError(
            f"unknown corpus spec {spec!r}; use one of {', '.join(SPECS)} "
            "(e.g. 'synthetic:zipf?vocab=512', 'text:books/', 'english')."
        )
    if not raw.strip():
        raise DataError(f"corpus {spec!r} is empty: {', '.join(map(str, files))} hold no text.")
    train, val, actual, sha, folder = text.tokenize(name, raw, vocab_size, cache)
    return Corpus(
        name=name,
        train=train,
        val=val,
        vocab_size=actual,
        sha256=sha,
        tokenizer=folder,
        sources=tuple(str(f) for f in files),
    )


def _synthetic(spec: str, vocab_size: int) -> Corpus:
    query = spec.partition("?")[2]
    options = {"vocab": vocab_size, "tokens": 1_000_000, "seed": 0}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if key not in _SYNTHETIC_KEYS:
            raise DataError(
                f"corpus {spec!r}: unknown option {key!r}; options are {', '.join(_SYNTHETIC_KEYS)}."
            )
        try:
            options[key] = int(value)
        except ValueError:
            raise DataError(
                f"corpus {spec!r}: option {key}={value!r} must be an integer."
            ) from None
    if options["vocab"] < 2 or options["tokens"] < 1000:
        raise DataError(
            f"corpus {spec!r}: needs vocab >= 2 and tokens >= 1000, got vocab={options['vocab']}, "
            f"tokens={options['tokens']}."
        )
    train, val = synthetic.generate(options["vocab"], options["tokens"], options["seed"])
    if options["vocab"] <= 2**16:
        train, val = train.astype(np.uint16), val.astype(np.uint16)
    sha = hashlib.sha256(train.tobytes() + val.tobytes()).hexdigest()
    return Corpus(
        name=f"synthetic-zipf-v{options['vocab']}-s{options['seed']}",
        train=train,
        val=val,
        vocab_size=options["vocab"],
        sha256=sha,
    )
