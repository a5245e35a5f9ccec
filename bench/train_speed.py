"""Training throughput of scalinglab's trainer against a plain PyTorch loop, on CPU.

Both train the same GPT (4 layers, d_model 128, 4 heads, learned positions, tied embeddings,
vocabulary 1024, 0.79M non-embedding parameters) on the same synthetic-language batches
(16 x 64 tokens), with AdamW and the same warmup + cosine schedule. The reference below is
the straightforward eager code one writes first: attention as softmax(QK^T / sqrt(hd)) with a
mask, ``torch.optim.AdamW`` with its defaults, the loss read with ``.item()`` every step,
torch's default thread count. The trainer (``scalinglab.train.train`` with its defaults) uses
``scaled_dot_product_attention``, fused AdamW, keeps losses on the device between reports,
and picks its thread count (:func:`scalinglab.train.loop.auto_threads`: one thread for tiny
steps, otherwise the cores not already busy).

Runs alternate (reference, trainer, reference, trainer) so that a change in the machine's load
hits both; the headline is the ratio of the median throughputs. A second ratio runs the reference
at the trainer's thread count, to separate the code's gain from the threading choice.

    python bench/train_speed.py            # ~30 s on 2 cores
    python bench/train_speed.py --compile  # also time torch.compile (minutes: compilation)

Last line: ``train_speed_ratio: X`` (trainer tokens/s over reference tokens/s).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scalinglab.train import ModelConfig, TrainConfig, load_corpus
from scalinglab.train.loop import auto_threads, train

VOCAB, LAYERS, HEADS, WIDTH, SEQ, BATCH = 1024, 4, 4, 128, 64, 16
STEPS = 24
LR = 3e-3
DATA = f"synthetic:zipf?vocab={VOCAB}&tokens=400000"


# ---- the reference: a plain GPT and training loop ------------------------------------------


class RefBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH)
        self.qkv, self.proj = nn.Linear(WIDTH, 3 * WIDTH), nn.Linear(WIDTH, WIDTH)
        self.up, self.down = nn.Linear(WIDTH, 4 * WIDTH), nn.Linear(4 * WIDTH, WIDTH)
        self.register_buffer("mask", torch.tril(torch.ones(SEQ, SEQ, dtype=torch.bool)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q = q.view(B, T, HEADS, C // HEADS).transpose(1, 2)  # (B, H, T, hd)
        k = k.view(B, T, HEADS, C // HEADS).transpose(1, 2)
        v = v.view(B, T, HEADS, C // HEADS).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // HEADS)  # (B, H, T, T)
        att = att.masked_fill(~self.mask[:T, :T], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(y)
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class RefGPT(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(VOCAB, WIDTH), nn.Embedding(SEQ, WIDTH)
        self.blocks = nn.ModuleList(RefBlock() for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(WIDTH)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for block in self.blocks:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.T
        return F.cross_entropy(logits.view(-1, VOCAB), targets.reshape(-1))


def reference_run(corpus, steps: int = STEPS, threads: int | None = None) -> float:  # type: ignore[no-untyped-def]
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _reference_loop(corpus, steps)
    finally:
        torch.set_num_threads(before)


def _reference_loop(corpus, steps: int) -> float:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = RefGPT()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.95), weight_decay=0.1)
    rng = np.random.default_rng(0)
    warmup = max(1, round(0.05 * steps))
    losses = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        if step <= warmup:
            lr = LR * step / warmup
        else:
            p = (step - warmup) / (steps - warmup)
            lr = 0.1 * LR + 0.9 * LR * 0.5 * (1 + math.cos(math.pi * p))
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = corpus.get_batch("train", BATCH, SEQ, rng)
        loss = model(torch.from_numpy(x), torch.from_numpy(y))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    elapsed = time.perf_counter() - start
    return steps * BATCH * SEQ / elapsed


# ---- the trainer ------------------------------------------------------------------------------


def trainer_config(compile_model: bool = False, steps: int = STEPS) -> TrainConfig:
    model = ModelConfig(VOCAB, LAYERS, HEADS, WIDTH, SEQ, pos="learned", tie_embeddings=True)
    return TrainConfig(
        model=model,
        tokens=steps * BATCH * SEQ,
        batch_size=BATCH,
        lr=LR,
        eval_every=steps,
        eval_tokens=SEQ * BATCH,
        data=DATA,
        device="cpu",
        compile=compile_model,
    )


def trainer_run(
    corpus, threads: int | None = None, compile_model: bool = False, steps: int = STEPS
) -> float:  # type: ignore[no-untyped-def]
    res = train(trainer_config(compile_model, steps), corpus=corpus, threads=threads)
    return res.tokens_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="alternating repetitions of each")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    args = parser.parse_args()
    corpus = load_corpus(DATA, vocab_size=VOCAB)
    cfg = trainer_config()
    default_threads = torch.get_num_threads()
    print(
        f"model: {LAYERS} layers, d_model {WIDTH}, {HEADS} heads, vocab {VOCAB}, "
        f"N = {cfg.model.n_params(False):,} non-embedding ({cfg.model.n_params(True):,} total); "
        f"batch {BATCH} x {SEQ} tokens, {STEPS} steps per run"
    )
    print(
        f"torch {torch.__version__}, default threads {default_threads}, "
        f"trainer threads (auto) {auto_threads(cfg)}"
    )
    threads = auto_threads(cfg)
    ref, ours, ref_same = [], [], []
    t0 = time.perf_counter()
    reference_run(corpus, steps=2)  # untimed warm-up of both code paths
    trainer_run(corpus, steps=2)
    for _ in range(args.reps):
        ref.append(reference_run(corpus))
        ours.append(trainer_run(corpus))
        ref_same.append(reference_run(corpus, threads=threads))
    for name, values in (
        ("reference", ref),
        ("trainer", ours),
        (f"reference on {threads} thread(s)", ref_same),
    ):
        print(
            f"{name:>26}: {statistics.median(values):9.0f} tokens/s  (runs: "
            + ", ".join(f"{v:.0f}" for v in values)
            + ")"
        )
    same = statistics.median(ours) / statistics.median(ref_same)
    print(f"trainer over reference at the same thread count ({threads}): {same:.2f}")
    if args.compile:
        eager = statistics.median(ours)
        c0 = time.perf_counter()
        first = trainer_run(corpus, compile_model=True)
        first_s = time.perf_counter() - c0
        again = trainer_run(corpus, compile_model=True)  # compiled code cached by now
        print(
            f"torch.compile: first run {first:.0f} tokens/s ({first_s:.1f} s with compilation), "
            f"second run {again:.0f} tokens/s; eager {eager:.0f} tokens/s "
            f"({again / eager:.2f}x once compiled)"
        )
    print(f"total {time.perf_counter() - t0:.1f} s")
    print(f"train_speed_ratio: {statistics.median(ours) / statistics.median(ref):.2f}")


if __name__ == "__main__":
    main()
