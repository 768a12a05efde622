"""Where facelab keeps what it can rebuild (rendered generator faces, aligned crops): one policy."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$FACELAB_CACHE``, else ``.cache/`` in the repository checkout, else ``~/.cache/facelab``."""
    env = os.environ.get("FACELAB_CACHE")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[1]
    if (repo / ".git").exists():
        return repo / ".cache"
    return Path.home() / ".cache" / "facelab"
