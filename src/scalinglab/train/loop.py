"""The training loop: AdamW, LR schedule, gradient clipping, evaluation, crash-safe checkpoints.

One step: set every parameter group's LR to lr(step) * lr_scale (:mod:`.schedule`; muP
groups of :func:`.model.param_groups`), draw a batch of random windows from the training
split, forward (bf16 autocast on CUDA only; CPU runs in fp32), backward, clip the global
gradient norm, AdamW step (Loshchilov and Hutter 2019, arXiv:1711.05101; betas (0.9, 0.95),
eps 1e-8, as in GPT-3, Brown et al. 2020, appendix B; the fused kernel where PyTorch has one).

Losses stay on the device until they are needed (progress reports, evaluation, checkpoints),
so a step does not wait on a ``.item()``. Held-out loss is measured every ``eval_every`` steps
and at the last step on the fixed evaluation set of :meth:`Corpus.heldout`.

**Checkpoints** hold the model, optimizer, both RNG states (numpy's batch sampler and
torch's), the step and the curve so far, and the config (its key must match on resume). They
are written to a temporary file in the same folder, fsynced, then ``os.replace``d over the old
one: a SIGKILL at any moment leaves either the old or the new checkpoint. A run resumed from a
checkpoint draws the same batches and does the same arithmetic, so on CPU it ends with the
same losses, bit for bit, as the uninterrupted run. A checkpoint is also written at the end,
so calling :func:`train` again on a finished run returns its result without training.

**torch.compile** (``TrainConfig.compile``) is off by default: on CPU it does not pay for the
small runs of a sweep. Measured by ``bench/train_speed.py --compile`` (4 layers, d_model 128,
16 x 64 tokens per step, torch 2.13 CPU, 2 loaded cores): compilation took 121 s, after which
steps ran 1.45x faster than eager, so it pays back only after several minutes of training.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from scalinglab.errors import DataError
from scalinglab.train.config import TrainConfig, TrainConfigError, missing_torch

try:
    import torch
    from torch import Tensor
except ModuleNotFoundError as exc:  # the optional 'train' extra
    raise missing_torch() from exc
from scalinglab.train.data import Corpus, load_corpus
from scalinglab.train.model import GPT, param_groups
from scalinglab.train.result import FINAL_TRAIN_STEPS, CurveRow, Progress, TrainResult
from scalinglab.train.schedule import lr_at
from scalinglab.units import training_flops

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
PROGRESS_EVERY = 10  # steps between progress reports (each one reads the loss off the device)
#: Below this many training FLOP per step, CPU runs use one thread: intra-op parallelism then
#: costs more than it saves, and on a loaded machine (more runnable processes than cores)
#: OpenMP threads that wait on each other made a 33k-parameter model 35x slower (measured:
#: 8.7 ms/step on 1 thread, 302 ms/step on 2, load average 7 on 2 cores).
ONE_THREAD_FLOPS = 5e8


def resolve_device(name: str) -> torch.device:
    """``"auto"``: CUDA when available, else CPU; otherwise the device named."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise TrainConfigError(f"device {name!r} is not a torch device: {exc}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainConfigError(f"device {name!r} asked for, but CUDA is not available here.")
    return device


def auto_threads(cfg: TrainConfig) -> int:
    """CPU threads for a run: 1 for small steps (see :data:`ONE_THREAD_FLOPS`), else torch's
    current setting (its default, all cores; a sweep's local runner sets cores / workers in
    each worker). Not the load average: a benchmark's or a sibling run's own load would then
    talk the run out of the cores it is meant to use."""
    per_step = training_flops(cfg.model.n_params(False), cfg.tokens_per_step)
    if per_step < ONE_THREAD_FLOPS:
        return 1
    return max(1, torch.get_num_threads())


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _optimizer(model: GPT, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    groups = param_groups(model, cfg.lr, cfg.weight_decay)
    try:
        return torch.optim.AdamW(groups, betas=(0.9, 0.95), eps=1e-8, fused=True)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device/dtype
        return torch.optim.AdamW(groups, betas=(0.9, 0.95), eps=1e-8, foreach=True)


def _autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: Tensor, y: Tensor, batch_size: int) -> float:
    """Mean cross-entropy (nats/token) of ``model`` over the windows x, y (n, T)."""
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for i in range(0, x.shape[0], batch_size):
        with _autocast(x.device):
            _, loss = model(x[i : i + batch_size], y[i : i + batch_size])
        total += loss.double() * x[i : i + batch_size].numel()
    model.train()
    return float(total.item()) / x.numel()


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically: a temp file beside it, fsync, os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename durable; not possible on every OS
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def load_checkpoint(path: Path, cfg: TrainConfig, device: torch.device) -> dict[str, Any]:
    """Read a checkpoint of this config; :class:`DataError` for another config or a bad file."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a killed writer
        stale.unlink(missing_ok=True)
    try:
        state: dict[str, Any] = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DataError(
            f"checkpoint {path} cannot be read as a scalinglab checkpoint "
            f"({type(exc).__name__}: {first[:120]}); delete it to restart the run."
        ) from exc
    if state.get("format") != CHECKPOINT_FORMAT or state.get("key") != cfg.key():
        raise DataError(
            f"checkpoint {path} belongs to run {state.get('key')!r}, not to this config "
            f"({cfg.key()}); give each run its own checkpoint path or delete the file."
        )
    return state


def _check_corpus(cfg: TrainConfig, corpus: Corpus) -> None:
    if corpus.vocab_size > cfg.model.vocab_size:
        raise TrainConfigError(
            f"corpus {corpus.name!r} has {corpus.vocab_size} token ids but the model's "
            f"vocab_size is {cfg.model.vocab_size}; make vocab_size >= {corpus.vocab_size}."
        )
    epochs = cfg.tokens_trained / max(corpus.unique_tokens, 1)
    if epochs > 1.0:
        logger.warning(
            "run %s trains on %d tokens but corpus %r has %d: the data repeat %.2f times "
            "(the data-constrained law applies)",
            cfg.key(),
            cfg.tokens_trained,
            corpus.name,
            corpus.unique_tokens,
            epochs,
        )


class _Session:
    """Mutable state of one call to :func:`train`: model, optimizer, RNG, curve, timers."""

    def __init__(self, cfg: TrainConfig, corpus: Corpus, device: torch.device) -> None:
        self.cfg, self.corpus, self.device = cfg, corpus, device
        torch.manual_seed(cfg.seed)
        self.model = GPT(cfg.model).to(device)
        self.optimizer = _optimizer(self.model, cfg, device)
        self.rng = np.random.default_rng(cfg.seed)
        self.step = 0
        self.curve: list[CurveRow] = []
        self.pending: list[tuple[int, float, Tensor]] = []  # (step, lr, loss on device)
        self.prior_wall = 0.0
        self.resumed_from = 0
        self.forward: Callable[..., tuple[Tensor, Tensor | None]] = (
            torch.compile(self.model) if cfg.compile else self.model  # type: ignore[assignment]
        )
        x_val, y_val = corpus.heldout(cfg.model.seq_len, cfg.eval_tokens)
        self.x_val = torch.from_numpy(x_val).to(device)
        self.y_val = torch.from_numpy(y_val).to(device)

    def state(self, wall_s: float) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "key": self.cfg.key(),
            "config": self.cfg.to_dict(),
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "numpy_rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "curve": [list(r) for r in self.curve],
            "wall_s": wall_s,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"].cpu())
        self.step = self.resumed_from = int(state["step"])
        self.curve = [
            (int(s), int(t), float(lr), float(tl), None if v is None else float(v))
            for s, t, lr, tl, v in state["curve"]
        ]
        self.prior_wall = float(state["wall_s"])

    def flush(self) -> None:
        """Move pending losses off the device into the curve (one sync for many steps)."""
        if not self.pending:
            return
        values = torch.stack([p[2] for p in self.pending]).float().cpu().tolist()
        tps = self.cfg.tokens_per_step
        for (step, lr, _), loss in zip(self.pending, values, strict=True):
            self.curve.append((step, step * tps, lr, float(loss), None))
        self.pending = []

    def train_step(self, step: int) -> None:
        cfg = self.cfg
        lr = lr_at(cfg, step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        x_np, y_np = self.corpus.get_batch("train", cfg.batch_size, cfg.model.seq_len, self.rng)
        x = torch.from_numpy(x_np).to(self.device, non_blocking=True)  # (B, T)
        y = torch.from_numpy(y_np).to(self.device, non_blocking=True)  # (B, T)
        with _autocast(self.device):
            _, loss = self.forward(x, y)
        assert loss is not None  # targets were given
        loss.backward()  # type: ignore[no-untyped-call]
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip, foreach=True)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.pending.append((step, lr, loss.detach()))
        self.step = step

    def record_eval(self) -> float:
        self.flush()
        val = evaluate(self.forward, self.x_val, self.y_val, self.cfg.batch_size)  # type: ignore[arg-type]
        s, t, lr, tl, _ = self.curve[-1]
        self.curve[-1] = (s, t, lr, tl, val)
        return val


def train(
    cfg: TrainConfig,
    *,
    corpus: Corpus | None = None,
    checkpoint_path: Path | None = None,
    checkpoint_every: int = 50,
    on_progress: Callable[[Progress], None] | None = None,
    threads: int | None = None,
) -> TrainResult:
    """Train the model of ``cfg`` on ``corpus`` (default: ``load_corpus(cfg.data)``).

    Resumes from ``checkpoint_path`` when that file exists, and writes it every
    ``checkpoint_every`` steps and at the end. ``on_progress`` is called every
    :data:`PROGRESS_EVERY` steps and at the last step. ``threads``: torch CPU threads while
    training (None: :func:`auto_threads`); the caller's setting is restored afterwards.
    """
    if checkpoint_every < 1:
        raise TrainConfigError(f"checkpoint_every is {checkpoint_every!r}; give a step count >= 1.")
    if threads is not None and threads < 1:
        raise TrainConfigError(f"threads is {threads!r}; give a thread count >= 1 or None (auto).")
    device = resolve_device(cfg.device)
    if corpus is None:
        corpus = load_corpus(cfg.data, vocab_size=cfg.model.vocab_size)
    _check_corpus(cfg, corpus)
    with _threads(threads if threads is not None else auto_threads(cfg)):
        return _train(cfg, corpus, device, checkpoint_path, checkpoint_every, on_progress)


def _train(
    cfg: TrainConfig,
    corpus: Corpus,
    device: torch.device,
    checkpoint_path: Path | None,
    checkpoint_every: int,
    on_progress: Callable[[Progress], None] | None,
) -> TrainResult:
    run = _Session(cfg, corpus, device)
    if checkpoint_path is not None and checkpoint_path.exists():
        run.restore(load_checkpoint(checkpoint_path, cfg, device))
        logger.info("run %s resumes at step %d of %d", cfg.key(), run.step, cfg.steps)
    start = time.perf_counter()
    eval_s = 0.0
    for step in range(run.step + 1, cfg.steps + 1):
        run.train_step(step)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            t0 = time.perf_counter()
            run.record_eval()
            eval_s += time.perf_counter() - t0
        if checkpoint_path is not None and (step % checkpoint_every == 0 or step == cfg.steps):
            run.flush()
            save_checkpoint(
                checkpoint_path, run.state(run.prior_wall + time.perf_counter() - start)
            )
        if on_progress is not None and (step % PROGRESS_EVERY == 0 or step == cfg.steps):
            run.flush()
            on_progress(_progress(run, step, time.perf_counter() - start - eval_s))
    run.flush()
    session_s = time.perf_counter() - start
    trained = (cfg.steps - run.resumed_from) * cfg.tokens_per_step
    train_s = max(session_s - eval_s, 1e-9)
    return _result(
        run, tokens_per_s=trained / train_s if trained else 0.0, wall_s=run.prior_wall + session_s
    )


def _progress(run: _Session, step: int, train_s: float) -> Progress:
    cfg = run.cfg
    recent = [r[3] for r in run.curve[-PROGRESS_EVERY:]]
    done = (step - run.resumed_from) * cfg.tokens_per_step
    rate = done / train_s if train_s > 0 else math.nan
    left = (cfg.steps - step) * cfg.tokens_per_step
    return Progress(
        step=step,
        steps=cfg.steps,
        train_loss=sum(recent) / len(recent),
        tokens_per_s=rate,
        eta_s=left / rate if rate > 0 else math.nan,
    )


def _result(run: _Session, *, tokens_per_s: float, wall_s: float) -> TrainResult:
    cfg, curve = run.cfg, run.curve
    last = [r[3] for r in curve[-FINAL_TRAIN_STEPS:]]
    val = curve[-1][4]
    if val is None:  # cannot happen: the last step is always evaluated
        raise DataError(f"run {cfg.key()}: the curve has no held-out loss at its last step.")
    n_ne = cfg.model.n_params(False)
    D = cfg.tokens_trained
    return TrainResult(
        config=cfg,
        N=cfg.model.n_params(True),
        N_nonembed=n_ne,
        D=D,
        C=float(training_flops(n_ne, D)),
        train_loss=math.fsum(last) / len(last),
        val_loss=val,
        curve=tuple(curve),
        tokens_per_s=tokens_per_s,
        wall_s=wall_s,
        resumed_from_step=run.resumed_from,
        unique_tokens=run.corpus.unique_tokens,
        epochs=D / max(run.corpus.unique_tokens, 1),
        corpus=run.corpus.name,
    )
