"""Downloading catalogue weights into the local cache: resumable, checksum-verified, atomic.

The cache is ``$VIDLEARN_HOME/weights`` when VIDLEARN_HOME is set, else
``$XDG_CACHE_HOME/vidlearn/weights`` (``~/.cache/vidlearn/weights``). A single-file entry is stored
under its published file name (torchvision's carries its sha256 prefix); a folder entry (Hugging
Face: config.json + weights) in a sub-folder named after the entry. A file the torch hub already
downloaded (``$TORCH_HOME/hub/checkpoints``) is used in place.

A download writes ``NAME.part`` beside its target and resumes it with an HTTP Range request, both
after a dropped connection (a few retries within one call) and in a later call; the sha256 (full
or the published prefix) is checked before the file is renamed into place, so a wrong or partial
file never sits at the final path. Offline, the connection fails at once (short timeout) with one
line naming the URL and the exact path to put the file at. Standard library only (urllib).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from vidlearn.errors import ConfigError, VidlearnError
from vidlearn.models.weights import (
    WeightsEntry,
    WeightsFile,
    get_weights,
    is_weights_name,
)
from vidlearn.progress import progress_bar

__all__ = ["DownloadError", "catalogue_rows", "fetch_weights", "find_weights", "resolve_weights", "weights_dir", "weights_path"]

CHUNK = 1 << 20
_CHECKPOINT_SUFFIXES = (".pth", ".pt", ".pyth", ".ckpt", ".bin", ".safetensors", ".vidlearn", ".tar")
CONNECT_TIMEOUT = 10.0  # seconds for the connection and for each read (a stalled read resumes)


class DownloadError(VidlearnError):
    """A download that failed (offline, refused, interrupted, wrong checksum); names the URL and
    where the file must go."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


def weights_dir(cache_dir: str | Path | None = None) -> Path:
    """The weights cache folder: `cache_dir`, else $VIDLEARN_HOME/weights, else
    $XDG_CACHE_HOME/vidlearn/weights (default ~/.cache/vidlearn/weights)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("VIDLEARN_HOME"):
        return Path(os.environ["VIDLEARN_HOME"]).expanduser() / "weights"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "vidlearn" / "weights"


def weights_path(entry: WeightsEntry | str, cache_dir: str | Path | None = None) -> Path:
    """Where an entry lives in the cache (a file, or a folder for a folder entry), downloaded or not."""
    entry = get_weights(entry) if isinstance(entry, str) else entry
    root = weights_dir(cache_dir)
    return root / entry.name if entry.is_folder else root / entry.files[0].filename


def find_weights(entry: WeightsEntry | str, cache_dir: str | Path | None = None) -> Path | None:
    """The local copy of an entry (the vidlearn cache, else the torch hub cache for a single
    file), or None when it is not downloaded."""
    entry = get_weights(entry) if isinstance(entry, str) else entry
    target = weights_path(entry, cache_dir)
    if entry.is_folder:
        return target if all((target / f.filename).is_file() for f in entry.files) else None
    if target.is_file():
        return target
    if cache_dir is None:
        torch_home = os.environ.get("TORCH_HOME") or str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "torch")
        hub = Path(torch_home).expanduser() / "hub" / "checkpoints" / entry.files[0].filename
        if hub.is_file():
            return hub
    return None


def resolve_weights(name_or_path: str | Path, cache_dir: str | Path | None = None) -> Path:
    """A weights argument as a local path: an existing file or folder as is; a catalogue name
    (e.g. "r3d_18.kinetics400") as its downloaded copy. ConfigError says how to get a missing one."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    name = str(name_or_path)
    if not is_weights_name(name):
        if "/" in name or path.suffix in _CHECKPOINT_SUFFIXES:
            raise ConfigError(f"weights file not found: {path}")
        get_weights(name)  # a typo: ConfigError with the close names
    entry = get_weights(name)
    found = find_weights(entry, cache_dir)
    if found is None:
        target = weights_path(entry, cache_dir)
        where = f"the files {', '.join(f.filename for f in entry.files)} in {target}/" if entry.is_folder else str(target)
        raise ConfigError(
            f"weights {entry.name} are not downloaded: run `vidlearn weights fetch {entry.name}`, "
            f"or put {where} (from {entry.url})"
        )
    return found


def fetch_weights(
    name_or_entry: str | WeightsEntry,
    *,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    timeout: float = CONNECT_TIMEOUT,
    retries: int = 3,
) -> Path:
    """Download a catalogue entry into the cache (nothing to do when it is there) and return its
    path: the file, or the folder of a folder entry. Resumes a `.part` file, verifies sha256,
    renames atomically; raises DownloadError naming the URL and the path to put the file at."""
    entry = get_weights(name_or_entry) if isinstance(name_or_entry, str) else name_or_entry
    found = find_weights(entry, cache_dir)
    if found is not None:
        return found
    target = weights_path(entry, cache_dir)
    for f in entry.files:
        dest = target / f.filename if entry.is_folder else target
        if not dest.is_file():
            _download(f, dest, progress=progress, timeout=timeout, retries=retries)
    return target


def _download(f: WeightsFile, dest: Path, *, progress: bool, timeout: float, retries: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        have = part.stat().st_size if part.is_file() else 0
        try:
            if _transfer(f, part, have, progress=progress, timeout=timeout):
                break
        except _Interrupted as exc:
            if attempt == retries:
                raise DownloadError(
                    f.url, f"download interrupted ({exc}) after {_size(part)}; run the command again to resume {part}"
                ) from None
    _verify(f, part, dest)
    os.replace(part, dest)


class _Interrupted(Exception):
    """The connection dropped or stalled mid-body: resumable."""


def _transfer(f: WeightsFile, part: Path, have: int, *, progress: bool, timeout: float) -> bool:
    """Fetch the rest of `f` into `part` from byte `have`; True when complete."""
    headers = {"User-Agent": "vidlearn", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(f.url, headers=headers), timeout=timeout)  # noqa: S310
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the .part is whole
            return True
        raise DownloadError(f.url, f"HTTP {exc.code} {exc.reason}; put the file at {_final(part)} by hand") from None
    except (urllib.error.URLError, OSError) as exc:  # offline, refused, DNS, connect timeout: fail now
        reason = getattr(exc, "reason", exc)
        raise DownloadError(
            f.url, f"cannot download ({reason}); offline? download it elsewhere and put it at {_final(part)}"
        ) from None
    with resp:
        if have and resp.status != 206:  # the server ignored the Range: start over
            have = 0
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else f.size
        mode = "ab" if have else "wb"
        received = have
        with open(part, mode) as out, progress_bar(
            desc=f.filename, unit="B", total=total, enabled=progress, unit_scale=True, unit_divisor=1024, initial=have
        ) as bar:
            try:
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (http.client.IncompleteRead, ConnectionError, TimeoutError, OSError) as exc:
                raise _Interrupted(type(exc).__name__) from None
        if total is not None and received < total:
            raise _Interrupted(f"{received} of {total} bytes")
    return True


def _verify(f: WeightsFile, part: Path, dest: Path) -> None:
    if f.size is not None and part.stat().st_size != f.size:
        got = part.stat().st_size
        part.unlink()
        raise DownloadError(f.url, f"size {got} bytes, expected {f.size}; the download was removed ({dest} not written)")
    if not f.sha256:
        return
    digest = hashlib.sha256()
    with open(part, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    got = digest.hexdigest()
    expected = f.sha256.lower()
    if not (got == expected if len(expected) == 64 else got.startswith(expected)):
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
        raise DownloadError(
            f.url, f"sha256 {got[:16]}... does not match the published {expected}; the download was removed ({dest} not written)"
        )


def _final(part: Path) -> Path:
    return part.with_name(part.name.removesuffix(".part"))


def _size(path: Path) -> str:
    return f"{path.stat().st_size} bytes" if path.is_file() else "0 bytes"


def catalogue_rows(cache_dir: str | Path | None = None) -> list[dict[str, object]]:
    """The catalogue as table rows: name, architecture, classes, size (MB, as published), frames x
    crop, fps or frame stride, top-1 (%), and the local copy (None when not downloaded)."""
    from vidlearn.models.weights import list_weights

    rows = []
    for e in list_weights():
        pre = e.preprocessing
        rows.append({
            "name": e.name, "architecture": e.architecture, "classes": e.num_classes, "dataset": e.dataset,
            "size_mb": e.size_mb, "clip": f"{pre.num_frames}x{pre.crop_size}",
            "sampling": f"{pre.fps:g} fps" if pre.fps else f"stride {pre.frame_stride}",
            "top1": e.top1, "cached": str(found) if (found := find_weights(e, cache_dir)) else None,
        })  # fmt: skip
    return rows
