"""Sweep design: isoflop grids around the Chinchilla optimum, D = C/6N, ladders, shapes, LR and
seeds, corpus size, and the errors raised before anything trains."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sweep_helpers import TINY, variant, write_sweep

from scalinglab.sweep import SweepError, SweepSpec, load_spec, plan_sweep
from scalinglab.sweep.design import check_corpus, optimal_N
from scalinglab.sweep.runner import make_runner
from scalinglab.train.config import ModelConfig

ISO = variant(
    design={
        "kind": "isoflop",
        "budgets": [1e11, 1e12],
        "n_per_budget": 5,
        "spread": 4.0,
        "sizes": None,
        "tokens_per_param": None,
    },
    sweep={"vocab_size": 256, "seq_len": 32},
    shape={"head_dim": 16, "d_multiple": 16, "aspect_ratio": [4.0, 64.0]},
    train={"batch_size": 8, "min_steps": 20},
)


def _spec(d: dict[str, object]) -> SweepSpec:
    return SweepSpec.from_dict(d, origin="test")


def test_isoflop_optimum_matches_hoffmann_closed_form() -> None:
    # Hoffmann et al. 2022 eq. 10 parameters; N* = G (C/6)^(beta/(alpha+beta)), appendix D.2
    A, B, alpha, beta = 406.4, 410.7, 0.34, 0.28
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    for C in (1e11, 1e20):
        expected = G * (C / 6) ** (beta / (alpha + beta))
        assert optimal_N(_spec(ISO), C) == pytest.approx(expected, rel=1e-12)


def test_isoflop_grid_spans_the_optimum_and_spends_each_budget() -> None:
    spec = _spec(ISO)
    runs = plan_sweep(spec)
    for C in (1e11, 1e12):
        group = sorted((r for r in runs if r.budget == C), key=lambda r: r.N)
        assert len(group) == 5
        centre = optimal_N(spec, C)
        asked = [centre * 4.0**o for o in (-1.0, -0.5, 0.0, 0.5, 1.0)]
        for r, n in zip(group, asked, strict=True):
            assert abs(r.N / n - 1) <= spec.shape.max_shape_error
            # D = C / 6N up to rounding to whole steps of batch x seq_len tokens
            per_step = spec.train.batch_size * spec.seq_len
            assert abs(6 * r.N * r.D - C) <= 6 * r.N * per_step / 2
            assert r.C == 6.0 * r.N * r.D
            assert r.D == r.steps * per_step == r.config.tokens_trained


def test_ladder_keeps_tokens_per_parameter_and_counts_both_ways() -> None:
    d = variant(design={"sizes": [3000.0, 12000.0, 48000.0], "tokens_per_param": 20.0})
    runs = plan_sweep(_spec(d))
    assert len(runs) == 3
    for r in runs:
        per_step = 4 * 16
        assert abs(r.D - 20 * r.N) <= per_step / 2
        m = r.config.model
        # N is the non-embedding count of the model that will train; N_total adds V d (tied)
        assert r.N == 12 * m.n_layer * m.d_model**2 + 13 * m.n_layer * m.d_model + 2 * m.d_model
        assert r.N_total == r.N + 64 * m.d_model
        assert m.d_model % m.n_head == 0 and m.d_model // m.n_head == 8


def test_explicit_shapes_lr_multipliers_and_seeds() -> None:
    d = variant(
        design={"sizes": None, "shapes": [{"n_layer": 2, "n_head": 2, "d_model": 32}]},
        lr={"base": 1e-3, "multipliers": [0.5, 2.0]},
        sweep={"seeds": [0, 1, 2]},
    )
    runs = plan_sweep(_spec(d))
    assert len({r.key for r in runs}) == 6
    assert sorted({r.lr for r in runs}) == [5e-4, 2e-3]
    assert sorted({r.seed for r in runs}) == [0, 1, 2]
    cfg = ModelConfig(vocab_size=64, n_layer=2, n_head=2, d_model=32, seq_len=16)
    assert all(r.N == cfg.n_params(False) and r.N_total == cfg.n_params(True) for r in runs)
    assert all(r.key == r.config.key() for r in runs)


def test_spec_round_trips_through_dict_and_toml(tmp_path: Path) -> None:
    d = variant(lr={"values": [1e-3, 3e-3]}, sweep={"allow_repeat": True})
    spec = load_spec(write_sweep(tmp_path / "s.toml", d))
    assert SweepSpec.from_dict(spec.to_dict()) == spec
    assert spec.lr.rates() == (1e-3, 3e-3)


def test_corpus_too_small_without_repeat_names_epochs() -> None:
    spec = _spec(TINY)
    runs = plan_sweep(spec)
    largest = max(r.D for r in runs)
    with pytest.raises(
        SweepError, match=r"need more tokens than the corpus.*2\.00 epochs.*allow_repeat"
    ):
        check_corpus(spec, runs, largest // 2)
    repeat = _spec(variant(sweep={"allow_repeat": True}))
    [note] = check_corpus(repeat, runs, largest // 2)
    assert "2.00 epochs" in note and "Muennighoff" in note
    assert check_corpus(spec, runs, largest) == []


def test_budget_too_small_for_any_shape() -> None:
    d = dict(ISO, design=dict(ISO["design"], budgets=[1e5]))
    with pytest.raises(
        SweepError, match=r"budget 1e\+05 FLOP: N = .* has no model shape within 25%"
    ):
        plan_sweep(_spec(d))


def test_too_few_steps_is_an_error() -> None:
    d = variant(design={"tokens_per_param": 0.01})
    with pytest.raises(
        SweepError, match=r"design.tokens_per_param: .* fewer than train.min_steps = 5"
    ):
        plan_sweep(_spec(d))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"design": {"budgetz": [1e12]}},
            r"\[design.budgetz\]: unknown key \(did you mean 'budgets'\?\)",
        ),
        ({"trian": {"lr": 1.0}}, r"\[trian\]: unknown table \(did you mean 'train'\?\)"),
        (
            {"design": {"kind": "isoflops"}},
            r"must be one of isoflop, ladder, got 'isoflops' \(did you mean 'isoflop'\?\)",
        ),
        (
            {"design": {"shapes": [{"n_layer": 2, "n_head": 3, "d_model": 32}], "sizes": None}},
            r"d_model = 32 is not divisible by n_head = 3",
        ),
        (
            {"design": {"shapes": [{"n_layer": 2, "n_head": 32, "d_model": 32}], "sizes": None}},
            r"head dimension d_model/n_head = 1 is odd",
        ),
        (
            {"shape": {"head_dim": 12, "d_multiple": 16}},
            r"d_multiple = 16 must be a multiple of head_dim = 12",
        ),
        (
            {"sweep": {"vocab_size": -3}},
            r"\[sweep.vocab_size\]: must be a positive integer, got -3",
        ),
        ({"sweep": {"name": "a/b"}}, r"\[sweep.name\]: 'a/b': use letters"),
        ({"design": {"kind": "isoflop", "sizes": None}}, r"an isoflop design needs budgets"),
        (
            {"lr": {"multipliers": [1.0], "values": [1e-3]}},
            r"give multipliers \(times base\) or values, not both",
        ),
        (
            {"train": {"warmup_frac": 2.0}},
            r"\[train.warmup_frac\]: must be a number in \[0, 1\], got 2.0",
        ),
    ],
)
def test_bad_sweep_dicts(changes: dict[str, dict[str, object]], message: str) -> None:
    with pytest.raises(SweepError, match=message):
        _spec(variant(**changes))


def test_unreadable_and_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(SweepError, match=r"missing.toml: cannot read the sweep file"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[sweep\nname = 1\n")
    with pytest.raises(SweepError, match=r"bad.toml: not valid TOML"):
        load_spec(bad)


def test_every_problem_listed_at_once() -> None:
    d = variant(sweep={"seq_len": 0, "vocab_size": 1.5}, train={"batch_sise": 3})
    with pytest.raises(SweepError, match=r"3 problem\(s\)") as info:
        _spec(d)
    assert "did you mean 'batch_size'" in str(info.value)


def test_workers_must_be_positive() -> None:
    with pytest.raises(SweepError, match="--workers must be at least 1, got 0"):
        make_runner(0, None)


def test_ray_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(SweepError, match=r"needs Ray: pip install 'scalinglab\[distributed\]'"):
        list(make_runner(1, "local").run([]))


def test_fit_file_is_relative_to_the_sweep_file_and_must_exist(tmp_path: Path) -> None:
    d = dict(ISO, design=dict(ISO["design"], fit="fits/chin.json"))
    spec = load_spec(write_sweep(tmp_path / "iso.toml", d))
    assert spec.design.fit == str(tmp_path / "fits" / "chin.json")
    with pytest.raises(
        SweepError, match=r"\[design.fit\] .*chin.json: fit file .* does not exist.*published law"
    ):
        plan_sweep(spec)


def test_a_second_driver_is_refused(tmp_path: Path) -> None:
    from scalinglab.sweep.runner import run_sweep
    from scalinglab.sweep.workdir import WorkDir

    wd = WorkDir.for_sweep("tiny", tmp_path).create()
    with wd.driver_lock(), pytest.raises(SweepError, match="another driver is running this sweep"):
        run_sweep(_spec(TINY), store=tmp_path / "s.duckdb", workdir=tmp_path, quiet=True)
