"""Train the small runs: a GPT model and its training loop in PyTorch, corpora and BPE.

Importing this package does not import torch: :func:`train` (from :mod:`.loop`) and the model
(:mod:`.model`) load it on first use.
"""

from typing import Any

from scalinglab.train.config import ModelConfig, TrainConfig, TrainConfigError
from scalinglab.train.data import Corpus, load_corpus
from scalinglab.train.result import Progress, TrainResult

__all__ = [
    "Corpus",
    "ModelConfig",
    "Progress",
    "TrainConfig",
    "TrainConfigError",
    "TrainResult",
    "load_corpus",
    "train",
]


def __getattr__(name: str) -> Any:
    if name == "train":  # torch is imported here, on first use
        from scalinglab.train.loop import train

        return train
    raise AttributeError(f"module 'scalinglab.train' has no attribute {name!r}")
