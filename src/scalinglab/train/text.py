"""Text corpora: reading text files and the bundled English corpus, the held-out split, and a
byte-level BPE tokenizer trained on the training split and cached.

**The ``english`` corpus** is assembled from Debian packages that ship English prose, installed
by ``scripts/setup train`` (and ``scripts/setup test``); nothing is downloaded at run time:

| package               | file                                              | text                         |
|-----------------------|---------------------------------------------------|------------------------------|
| fortunes              | /usr/share/games/fortunes/*                       | quotations, poems, jokes (2.5 MB) |
| dict-jargon           | /usr/share/dictd/jargon.dict.dz                   | The Jargon File 4.4.7 (1.7 MB) |
| dict-devil            | /usr/share/dictd/devil.dict.dz                    | Bierce, The Devil's Dictionary (0.4 MB) |
| debian-reference-en   | /usr/share/debian-reference/debian-reference.en.txt.gz | Debian Reference (0.9 MB) |

About 5.4 MB of text in all (dictd ``.dz`` files are gzip-compatible). Files under
/usr/share/doc are avoided on purpose: Debian container images often exclude that tree.

**Held-out split.** The text (files in sorted order, joined by blank lines) is cut at line
boundaries into blocks of about ``len(text) / 100`` characters (1,000 to 20,000); every tenth
block (blocks 9, 19, 29, ...) is held out. The split is deterministic and spread over the whole
corpus, so held-out text comes from every source, not only the last file.

**Tokenizer.** Byte-level BPE (Sennrich et al. 2016, arXiv:1508.07909; byte-level as in GPT-2,
Radford et al. 2019) trained with the ``tokenizers`` library on the training blocks only, with
the 256 byte symbols as the initial alphabet so that any text can be encoded. The tokenizer and
the token ids of both splits are cached under ``cache_dir/bpe/<name>-<sha256[:16]>-v<vocab>/``,
keyed by the corpus text's SHA-256 and the vocabulary size, and written atomically (several
sweep workers may build the same cache at once).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from scalinglab.errors import DataError

HELD_OUT_EVERY = 10  # every 10th block is held out
MIN_BYTE_VOCAB = 256  # byte-level BPE starts from the 256 byte symbols

ENGLISH_SOURCES: tuple[tuple[str, str], ...] = (
    ("fortunes", "/usr/share/games/fortunes"),
    ("dict-jargon", "/usr/share/dictd/jargon.dict.dz"),
    ("dict-devil", "/usr/share/dictd/devil.dict.dz"),
    ("debian-reference-en", "/usr/share/debian-reference/debian-reference.en.txt.gz"),
)


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r}). "
            "Convert it to UTF-8 (e.g. iconv -t utf-8) or leave it out."
        ) from exc


def read_text_file(path: Path) -> str:
    """One text file; ``.gz``/``.dz`` files are gunzipped."""
    data = path.read_bytes()
    if path.suffix in (".gz", ".dz"):
        data = gzip.decompress(data)
    return _decode(path, data)


def read_text_path(spec_path: str) -> tuple[str, list[Path]]:
    """The text of a file, or of every ``.txt`` file under a folder (sorted, recursive)."""
    path = Path(spec_path).expanduser()
    if not path.exists():
        raise DataError(
            f"corpus 'text:{spec_path}': no such file or folder. Give a text file or a folder "
            "of .txt files."
        )
    files = sorted(p for p in path.rglob("*.txt") if p.is_file()) if path.is_dir() else [path]
    if not files:
        raise DataError(f"corpus 'text:{spec_path}': the folder holds no .txt files.")
    return "\n\n".join(read_text_file(f) for f in files), files


def _fortunes(folder: Path) -> list[str]:
    # fortune files: entries separated by lines holding only "%"; skip the strfile indexes
    # (.dat), the .u8 links to the same files and the ASCII-art file (pictures, not prose)
    texts = []
    for f in sorted(folder.iterdir()):
        if f.suffix in (".dat", ".u8") or f.is_symlink() or f.name == "ascii-art":
            continue
        lines = read_text_file(f).splitlines()
        texts.append("\n".join("" if line == "%" else line for line in lines))
    return texts


def read_english() -> tuple[str, list[Path]]:
    """The bundled English corpus from its Debian packages (see the module docstring)."""
    missing = [pkg for pkg, p in ENGLISH_SOURCES if not Path(p).exists()]
    if missing:
        raise DataError(
            f"corpus 'english' needs the Debian packages {', '.join(missing)}, which are not "
            f"installed. Run scripts/setup train (or: apt-get install {' '.join(missing)})."
        )
    parts: list[str] = []
    files: list[Path] = []
    for _, p in ENGLISH_SOURCES:
        path = Path(p)
        parts.extend(_fortunes(path) if path.is_dir() else [read_text_file(path)])
        files.append(path)
    return "\n\n".join(parts), files


def split_blocks(text: str) -> tuple[list[str], list[str]]:
    """(train blocks, held-out blocks): line-aligned blocks, every 10th held out."""
    size = min(20_000, max(1_000, len(text) // 100))
    blocks: list[str] = []
    current: list[str] = []
    count = 0
    for line in text.splitlines(keepends=True):
        current.append(line)
        count += len(line)
        if count >= size:
            blocks.append("".join(current))
            current, count = [], 0
    if current:
        blocks.append("".join(current))
    train = [b for i, b in enumerate(blocks) if i % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]
    val = [b for i, b in enumerate(blocks) if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]
    return train, val


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _ids(encodings: Sequence[object], dtype: type[np.unsignedinteger]) -> NDArray[np.generic]:
    chunks = [np.asarray(e.ids, dtype=dtype) for e in encodings]  # type: ignore[attr-defined]
    return np.concatenate(chunks) if chunks else np.empty(0, dtype=dtype)


def tokenize(
    name: str, text: str, vocab_size: int, cache_dir: Path
) -> tuple[NDArray[np.generic], NDArray[np.generic], int, str, Path]:
    """(train ids, val ids, actual vocab size, text sha256, cache folder) for a text corpus."""
    if vocab_size < MIN_BYTE_VOCAB:
        raise DataError(
            f"vocab_size {vocab_size} is too small for corpus {name!r}: byte-level BPE needs at "
            f"least {MIN_BYTE_VOCAB} (one symbol per byte). Use a larger vocabulary."
        )
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    folder = cache_dir / "bpe" / f"{name}-{sha[:16]}-v{vocab_size}"
    tok_path, ids_path = folder / "tokenizer.json", folder / "tokens.npz"
    if tok_path.exists() and ids_path.exists():
        with np.load(ids_path) as cached:
            train_ids, val_ids = cached["train"], cached["val"]
            actual = int(cached["vocab_size"])
        return train_ids, val_ids, actual, sha, folder
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    train_blocks, val_blocks = split_blocks(text)
    if not val_blocks or not train_blocks:
        raise DataError(
            f"corpus {name!r} is too small to hold out every {HELD_OUT_EVERY}th block "
            f"({len(text)} characters); give at least 10,000 characters of text."
        )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(train_blocks, trainer=trainer)
    actual = tok.get_vocab_size()
    dtype = np.uint16 if actual <= 2**16 else np.uint32
    train_ids = _ids(tok.encode_batch(train_blocks), dtype)
    val_ids = _ids(tok.encode_batch(val_blocks), dtype)
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write(tok_path, tok.to_str().encode())
    buf = _npz_bytes(train_ids, val_ids, actual)
    _atomic_write(ids_path, buf)
    return train_ids, val_ids, actual, sha, folder


def _npz_bytes(train: NDArray[np.generic], val: NDArray[np.generic], vocab: int) -> bytes:
    import io

    out = io.BytesIO()
    np.savez(out, train=train, val=val, vocab_size=np.int64(vocab))
    return out.getvalue()
