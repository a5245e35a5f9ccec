"""What a training run returns: :class:`TrainResult` (frozen, serialisable) and :class:`Progress`.

No torch here, so a sweep driver can read results without importing it.

``TrainResult.runs_frame()`` gives the rows to store, in the runs table's long form (``metric``,
``value``; see :mod:`scalinglab.data.ingest`), accepted by :func:`scalinglab.data.read_runs` and
:meth:`scalinglab.data.Store.import_runs`: ``run_id`` (= the config's key), ``N`` (non-embedding
parameters), ``N_total`` (with embeddings), ``D`` (tokens seen up to that step), ``C`` (FLOP up
to that step, 6 N D with non-embedding N), ``step``, ``lr`` (the LR used at that step, as the
``lr_schedule`` law reads it), ``peak_lr``, ``steps`` (the run's total, so ``step == steps``
selects final rows), ``batch_size``, ``seed``, ``unique_tokens``, ``metric`` and ``value``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from scalinglab.train.config import TrainConfig
from scalinglab.units import training_flops

#: One curve row: (step, tokens seen, lr, train loss in nats/token, held-out loss or None).
CurveRow = tuple[int, int, float, float, float | None]


@dataclass(frozen=True)
class Progress:
    """Reported during training: ``step`` of ``steps``, recent mean train loss (nats/token),
    throughput (tokens/s) and estimated seconds left."""

    step: int
    steps: int
    train_loss: float
    tokens_per_s: float
    eta_s: float


@dataclass(frozen=True)
class TrainResult:
    """A finished run.

    ``N``: parameters with embeddings; ``N_nonembed``: without; ``D``: tokens seen; ``C``: 6 N D
    FLOP with non-embedding N; ``train_loss``: mean train loss of the last
    :data:`FINAL_TRAIN_STEPS` steps; ``val_loss``: held-out loss at the last step (nats/token);
    ``curve``: one row per step (see :data:`CurveRow`); ``tokens_per_s``: training throughput
    of the last process that trained it (evaluation excluded); ``wall_s``: wall time over all
    processes; ``resumed_from_step``: the checkpoint step it resumed from (0: a fresh run);
    ``unique_tokens``: tokens in the corpus' training split; ``epochs``: D / unique_tokens
    (> 1: data repeated).
    """

    config: TrainConfig
    N: int
    N_nonembed: int
    D: int
    C: float
    train_loss: float
    val_loss: float
    curve: tuple[CurveRow, ...]
    tokens_per_s: float
    wall_s: float
    resumed_from_step: int
    unique_tokens: int = 0
    epochs: float = 0.0
    corpus: str = ""

    @property
    def run_id(self) -> str:
        return self.config.key()

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "N": self.N,
            "N_nonembed": self.N_nonembed,
            "D": self.D,
            "C": self.C,
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "curve": [list(r) for r in self.curve],
            "tokens_per_s": self.tokens_per_s,
            "wall_s": self.wall_s,
            "resumed_from_step": self.resumed_from_step,
            "unique_tokens": self.unique_tokens,
            "epochs": self.epochs,
            "corpus": self.corpus,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainResult:
        fields = dict(data)
        fields["config"] = TrainConfig.from_dict(fields["config"])
        fields["curve"] = tuple(
            (int(s), int(t), float(lr), float(tl), None if v is None else float(v))
            for s, t, lr, tl, v in fields["curve"]
        )
        return cls(**fields)

    def runs_frame(self, *, every_step: bool = False) -> pd.DataFrame:
        """Rows to store (long form). By default one ``val_loss`` and one ``train_loss`` row
        per evaluation point, the train loss being the mean over the steps since the previous
        evaluation point; ``every_step=True``: a ``train_loss`` row at every step as well."""
        cfg = self.config
        base = {
            "run_id": self.run_id,
            "N": float(self.N_nonembed),
            "N_total": float(self.N),
            "peak_lr": cfg.lr,
            "steps": float(cfg.steps),
            "batch_size": float(cfg.batch_size),
            "seed": float(cfg.seed),
            "unique_tokens": float(self.unique_tokens),
        }
        rows: list[dict[str, Any]] = []
        since: list[float] = []
        for step, tokens, lr, train_loss, val_loss in self.curve:
            since.append(train_loss)
            at = {
                **base,
                "D": float(tokens),
                "C": float(training_flops(self.N_nonembed, tokens)),
                "step": float(step),
                "lr": lr,
            }
            if every_step and val_loss is None:
                rows.append({**at, "metric": "train_loss", "value": train_loss})
            if val_loss is not None:
                mean = train_loss if every_step else math.fsum(since) / len(since)
                rows.append({**at, "metric": "train_loss", "value": mean})
                rows.append({**at, "metric": "val_loss", "value": val_loss})
                since = []
        return pd.DataFrame(rows)


#: Steps averaged for :attr:`TrainResult.train_loss`.
FINAL_TRAIN_STEPS = 10
