"""Training one run of a sweep, in whatever process runs it (local worker or Ray task).

A task is a plain dict (picklable, JSON-able): ``key``, ``config`` (TrainConfig.to_dict()),
``root`` (the sweep work directory) and ``checkpoint_every`` (steps). The worker holds the run's
lock while training, so two processes never train the same run; if the result already exists
when it gets the lock (a previous worker finished it), it returns that result untrained. It
trains from the last checkpoint when one exists, writes the TrainResult JSON atomically, then
appends one ledger line: a run in the ledger twice was trained to completion twice.

torch is imported here only when a run trains (through :mod:`scalinglab.train`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from scalinglab.sweep.workdir import WorkDir, atomic_write_json, read_json

_CORPORA: dict[tuple[str, int], Any] = {}
_PROGRESS_INTERVAL_S = 0.2


def corpus_for(data: str, vocab_size: int) -> Any:
    """The corpus of ``data`` (cached in this process: every run of a sweep shares it)."""
    from scalinglab.train.data import load_corpus

    key = (data, vocab_size)
    if key not in _CORPORA:
        _CORPORA[key] = load_corpus(data, vocab_size=vocab_size)
    return _CORPORA[key]


class ProgressFile:
    """``on_progress`` callback: writes step, steps and loss to the run's progress file, at
    most every 0.2 s (and always at the last step)."""

    def __init__(self, path: Path, key: str, steps: int) -> None:
        self.path, self.key, self.steps = path, key, steps
        self.last = 0.0
        self.started = time.time()

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        info = _progress_fields(args, kwargs)
        step = int(info.get("step", 0))
        now = time.time()
        if now - self.last < _PROGRESS_INTERVAL_S and step < self.steps:
            return
        self.last = now
        atomic_write_json(
            self.path,
            {
                "key": self.key,
                "pid": os.getpid(),
                "step": step,
                "steps": self.steps,
                "loss": info.get("loss"),
                "started": self.started,
                "time": now,
            },
        )


def _progress_fields(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Step and loss from the trainer's progress report (``Progress``: ``step``, ``train_loss``;
    a dict or keywords with the same names work too)."""
    src: Any = args[0] if args else kwargs

    def get(name: str) -> Any:
        return src.get(name) if isinstance(src, dict) else getattr(src, name, None)

    loss = get("train_loss")
    return {"step": get("step") or 0, "loss": get("loss") if loss is None else loss}


def train_task(task: dict[str, Any]) -> dict[str, Any]:
    """Train one run (resuming, or returning a result already written); its TrainResult dict."""
    wd = WorkDir(Path(task["root"])).create()  # on a Ray node without the driver's filesystem too
    key = str(task["key"])
    with wd.run_lock(key):
        done = read_json(wd.result(key))
        if done is not None:
            return dict(done)
        from scalinglab.train.config import TrainConfig
        from scalinglab.train.loop import train

        cfg = TrainConfig.from_dict(task["config"])
        result = train(
            cfg,
            corpus=corpus_for(cfg.data, cfg.model.vocab_size),
            checkpoint_path=wd.checkpoint(key),
            checkpoint_every=int(task.get("checkpoint_every", 50)),
            on_progress=ProgressFile(wd.progress(key), key, cfg.steps),
        )
        out: dict[str, Any] = result.to_dict()
        atomic_write_json(wd.result(key), out)
        wd.record_completion(key)
        return out
