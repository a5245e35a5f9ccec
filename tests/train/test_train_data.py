"""Corpora: the synthetic language, text files and folders, the BPE cache, bad specs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scalinglab.errors import DataError
from scalinglab.train import text
from scalinglab.train.data import load_corpus

pytest.importorskip("tokenizers")

PROSE = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was "
    "the age of foolishness, it was the epoch of belief, it was the epoch of incredulity.\n"
)


def write_prose(path: Path, repeats: int = 120) -> Path:
    path.write_text("".join(f"{i}: {PROSE}" for i in range(repeats)), encoding="utf-8")
    return path


def test_synthetic_language_is_seeded_and_zipfian() -> None:
    a = load_corpus("synthetic:zipf?tokens=20000&seed=3", vocab_size=64)
    b = load_corpus("synthetic:zipf?tokens=20000&seed=3", vocab_size=64)
    c = load_corpus("synthetic:zipf?tokens=20000&seed=4", vocab_size=64)
    assert a.sha256 == b.sha256 != c.sha256
    assert a.vocab_size == 64 and a.train.dtype == np.uint16
    assert a.unique_tokens == a.train.size and a.val.size > 0
    assert a.train.max() < 64
    counts = np.sort(np.bincount(a.train, minlength=64))[::-1]
    assert counts[0] > 5 * counts[31]  # heavy-tailed unigram frequencies
    # learnable structure: far fewer distinct bigrams than the 64 x 64 possible
    pairs = {(int(x), int(y)) for x, y in zip(a.train[:-1], a.train[1:], strict=True)}
    assert len(pairs) < 0.5 * 64 * 64


def test_batches_and_heldout() -> None:
    corpus = load_corpus("synthetic:zipf?tokens=20000", vocab_size=64)
    x, y = corpus.get_batch("train", 4, 16, np.random.default_rng(0))
    assert x.shape == y.shape == (4, 16) and x.dtype == np.int64
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # targets are inputs shifted by one
    hx, hy = corpus.heldout(16, 100)
    assert hx.shape == (6, 16)  # 100 tokens -> 6 whole windows
    np.testing.assert_array_equal(hx.reshape(-1)[1:], hy.reshape(-1)[:-1])
    with pytest.raises(DataError, match="split must be 'train' or 'val', got 'test'"):
        corpus.get_batch("test", 4, 16, np.random.default_rng(0))
    with pytest.raises(DataError, match="fewer than one sequence of seq_len \\+ 1"):
        corpus.heldout(100_000, 10)


def test_text_file_bpe_and_cache_reuse(tmp_path: Path) -> None:
    path = write_prose(tmp_path / "tale.txt")
    cache = tmp_path / "cache"
    first = load_corpus(f"text:{path}", vocab_size=300, cache_dir=cache)
    assert first.name == "tale.txt" and first.vocab_size <= 300
    assert first.tokenizer is not None and (first.tokenizer / "tokenizer.json").exists()
    assert first.unique_tokens == first.train.size > 5 * first.val.size  # 1 block in 10 held out
    stamp = (first.tokenizer / "tokens.npz").stat().st_mtime_ns
    second = load_corpus(f"text:{path}", vocab_size=300, cache_dir=cache)
    assert (second.tokenizer / "tokens.npz").stat().st_mtime_ns == stamp  # read, not rebuilt
    np.testing.assert_array_equal(first.train, second.train)
    np.testing.assert_array_equal(first.val, second.val)
    # the cached tokenizer decodes the ids back to the training text (byte-level: lossless)
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(first.tokenizer / "tokenizer.json"))
    train_blocks, _ = text.split_blocks(path.read_text())
    assert tok.decode(first.train.tolist()) == "".join(train_blocks)
    # another vocabulary size is another cache entry
    other = load_corpus(f"text:{path}", vocab_size=280, cache_dir=cache)
    assert other.tokenizer != first.tokenizer


def test_text_folder_reads_every_txt(tmp_path: Path) -> None:
    folder = tmp_path / "books"
    (folder / "sub").mkdir(parents=True)
    write_prose(folder / "a.txt", 60)
    write_prose(folder / "sub" / "b.txt", 60)
    (folder / "notes.md").write_text("not read")
    corpus = load_corpus(f"text:{folder}", vocab_size=300, cache_dir=tmp_path / "c")
    assert [Path(s).name for s in corpus.sources] == ["a.txt", "b.txt"]


def test_held_out_split_is_spread_and_deterministic() -> None:
    lines = [f"line {i} {'x' * 40}\n" for i in range(2000)]
    train, val = text.split_blocks("".join(lines))
    assert len(val) == len(train) // 9  # every 10th block
    assert val[0].startswith("line ") and "line 1999" not in val[0]
    assert text.split_blocks("".join(lines)) == (train, val)
    assert "".join(train + val).count("\n") == 2000


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (
            "wikipedia",
            "unknown corpus spec 'wikipedia'; use one of synthetic:zipf, text:PATH, english",
        ),
        ("text:", "names no path"),
        ("text:/no/such/place", "no such file or folder"),
        ("synthetic:zipf?vocab=abc", "option vocab='abc' must be an integer"),
        ("synthetic:zipf?size=3", "unknown option 'size'"),
        ("synthetic:zipf?tokens=10", "tokens >= 1000"),
    ],
)
def test_bad_specs(spec: str, match: str, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=match):
        load_corpus(spec, vocab_size=300, cache_dir=tmp_path)


def test_bad_text(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"holds no \.txt files"):
        load_corpus(f"text:{tmp_path / 'empty'}", vocab_size=300, cache_dir=tmp_path)
    blank = tmp_path / "blank.txt"
    blank.write_text("  \n\n")
    with pytest.raises(DataError, match="is empty"):
        load_corpus(f"text:{blank}", vocab_size=300, cache_dir=tmp_path)
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("café".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8 text"):
        load_corpus(f"text:{latin}", vocab_size=300, cache_dir=tmp_path)
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("a few words\n")
    with pytest.raises(DataError, match="too small to hold out"):
        load_corpus(f"text:{tiny}", vocab_size=300, cache_dir=tmp_path)
    with pytest.raises(DataError, match="vocab_size 100 is too small"):
        load_corpus(f"text:{write_prose(tmp_path / 'ok.txt')}", vocab_size=100, cache_dir=tmp_path)


def test_english_needs_its_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text, "ENGLISH_SOURCES", (("no-such-package", "/no/such/file.gz"),))
    with pytest.raises(DataError, match="needs the Debian packages no-such-package"):
        load_corpus("english", vocab_size=300)


@pytest.mark.slow
def test_english_corpus(tmp_path: Path) -> None:
    missing = [pkg for pkg, p in text.ENGLISH_SOURCES if not Path(p).exists()]
    if missing:
        pytest.skip(f"Debian packages {missing} not installed (scripts/setup train installs them)")
    raw, _ = text.read_english()
    assert 4_000_000 < len(raw) < 8_000_000  # about 5.4 MB of prose
    assert "DEVIL'S DICTIONARY" in raw.upper() and "hacker" in raw
