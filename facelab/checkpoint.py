"""Checkpoint directories: ``model.safetensors`` + ``config.json`` + ``README.md`` (model card).

Loading never unpickles: weights come from safetensors, the architecture is rebuilt from the
JSON config, and the state dict is loaded strictly so a mismatch names the offending keys.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .config import ModelConfig, TrainConfig, load_config, save_config, weights_checksum
from .methods import build_network, get_method

WEIGHTS, CONFIG, CARD = "model.safetensors", "config.json", "README.md"
BUNDLED = Path(__file__).resolve().parent.parent / "checkpoints"


class CheckpointError(RuntimeError):
    """A checkpoint directory that is missing, incomplete or does not match its config."""


def checkpoint_root() -> Path:
    """Where bundled checkpoint names are looked up: ``$FACELAB_CHECKPOINTS``, else ``checkpoints/``."""
    return Path(os.environ.get("FACELAB_CHECKPOINTS", BUNDLED))


def bundled_names() -> list[str]:
    return sorted(p.name for p in checkpoint_root().glob("*") if (p / CONFIG).is_file() and (p / WEIGHTS).is_file())


def resolve(name_or_dir: str | os.PathLike) -> Path:
    """A directory path as is, else a bundled checkpoint's name under ``checkpoints/``."""
    path = Path(name_or_dir)
    if not path.is_dir():
        path = checkpoint_root() / str(name_or_dir)
    if not path.is_dir():
        known = ", ".join(bundled_names()) or "none"
        raise CheckpointError(f"no checkpoint {str(name_or_dir)!r}: not a directory nor a bundled name ({known})")
    for required in (CONFIG, WEIGHTS):
        if not (path / required).is_file():
            raise CheckpointError(f"checkpoint {path} has no {required}")
    return path


def save_checkpoint(
    directory: str | os.PathLike,
    model: torch.nn.Module,
    model_config: ModelConfig,
    train_config: TrainConfig | None = None,
) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    # temp file + rename: a run killed mid-save leaves the previous weights, never half a file
    tmp = directory / f".{WEIGHTS}.tmp{os.getpid()}"
    save_file(state, str(tmp), metadata={"format": "pt", "method": model_config.method})
    os.replace(tmp, directory / WEIGHTS)
    save_config(directory / CONFIG, model_config, train_config, weights_sha256=sha256_file(directory / WEIGHTS))
    return directory


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_weights(directory: str | os.PathLike) -> None:
    """Refuse weights whose checksum differs from the one their ``config.json`` recorded (a file
    altered or damaged after saving); checkpoints saved before checksums pass unchecked."""
    directory = Path(directory)
    expected = weights_checksum(directory / CONFIG)
    if expected and sha256_file(directory / WEIGHTS) != expected:
        raise CheckpointError(f"{directory / WEIGHTS} was altered after it was saved: its SHA-256 does not match "
                              f"the weights_sha256 in {directory / CONFIG}")


def upgrade_state(state: dict[str, torch.Tensor], legacy_keys: dict[str, str]) -> dict[str, torch.Tensor]:
    """Rename an older checkpoint's state-dict prefixes (a method's ``legacy_keys``) to today's."""
    out = {}
    for key, value in state.items():
        for old, new in legacy_keys.items():
            if key.startswith(old):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


def load_checkpoint(name_or_dir: str | os.PathLike, device: str | torch.device = "cpu"):
    """→ (model in eval mode, ModelConfig, TrainConfig or None, directory)."""
    path = resolve(name_or_dir)
    model_config, train_config = load_config(path / CONFIG)
    verify_weights(path)
    model = build_network(model_config)
    try:
        state = load_file(str(path / WEIGHTS), device=str(device))
    except Exception as e:  # truncated or not a safetensors file
        raise CheckpointError(f"{path / WEIGHTS} cannot be read as safetensors: {e}") from None
    state = upgrade_state(state, get_method(model_config.method).legacy_keys)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches
        raise CheckpointError(f"{path / WEIGHTS} does not match {path / CONFIG}: {e}") from None
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"{path / WEIGHTS} does not match its config: missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}"
        )
    return model.to(device).eval(), model_config, train_config, path
