"""Where facelab keeps what it can rebuild (rendered generator faces, aligned crops): one policy."""

from __future__ import annotations

import os
from pathlib import Path

#: Rendered swap targets: one file per draw of partners, about 0.6 GB each at the bundled size.
RENDERS_GLOB = "renders-v*.npy"
DEFAULT_RENDERS_LIMIT_GB = 6.0
_used_here: set[Path] = set()  # files this process has read or written: never pruned under it


def default_cache_dir() -> Path:
    """``$FACELAB_CACHE``, else ``.cache/`` in the repository checkout, else ``~/.cache/facelab``."""
    env = os.environ.get("FACELAB_CACHE")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[1]
    if (repo / ".git").exists():
        return repo / ".cache"
    return Path.home() / ".cache" / "facelab"


def renders_limit_bytes() -> int:
    """``$FACELAB_RENDERS_LIMIT_GB`` (default 6): the most disk the render files may hold together.

    Why a limit: every new draw of swap partners (another seed, another set) writes about 2.5 GB
    at the bundled size, and nothing else ever deletes them."""
    value = os.environ.get("FACELAB_RENDERS_LIMIT_GB", "")
    try:
        gigabytes = float(value) if value.strip() else DEFAULT_RENDERS_LIMIT_GB
    except ValueError:
        gigabytes = DEFAULT_RENDERS_LIMIT_GB
    return int(max(gigabytes, 0.0) * 1024**3)


def mark_used(path: Path) -> None:
    """Record a cache hit or write: refresh the file's time (pruning goes oldest first) and keep it
    for the rest of this process."""
    path = Path(path)
    _used_here.add(path.resolve())
    try:
        os.utime(path)
    except OSError:
        pass


def prune_renders(root: str | os.PathLike, limit_bytes: int | None = None) -> list[Path]:
    """Delete the least recently used render files under ``root`` until they fit ``limit_bytes``.

    Files this process used are kept even when they alone exceed the limit, so one run's draw is
    never rendered twice. Another process reads its files whole into memory, so deleting one under
    it costs at most a render later, never a wrong image. Returns the deleted paths."""
    limit = renders_limit_bytes() if limit_bytes is None else limit_bytes
    files = []
    for path in Path(root).glob(RENDERS_GLOB):
        if ".tmp" in path.name:  # another process is still writing it
            continue
        try:
            stat = path.stat()
        except OSError:  # deleted meanwhile by another process
            continue
        files.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in files)
    removed = []
    for _, size, path in sorted(files, key=lambda item: item[0]):
        if total <= limit:
            break
        if path.resolve() in _used_here:
            continue
        try:
            path.unlink()
        except OSError:
            continue
        total -= size
        removed.append(path)
    return removed
