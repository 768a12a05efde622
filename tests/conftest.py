"""Shared fixtures: a tiny synthetic dataset and a 2-step-trained checkpoint, built once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("facelab-cache")
    os.environ["FACELAB_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def tiny_synthetic(cache_dir):
    from facelab.synthetic import SyntheticFaces

    return SyntheticFaces(identities=4, per_identity=8, size=64, seed=0, cache_dir=cache_dir, progress=False)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_synthetic):
    """A checkpoint trained for 2 steps per stage: real weights, real files, seconds to make."""
    from facelab.checkpoint import save_checkpoint
    from facelab.config import ModelConfig, TrainConfig
    from facelab.methods.disvae import DisVAEOptions
    from facelab.training import train

    model_config = ModelConfig(channels=(8, 16, 16, 16), latents={"identity": 6, "expression": 4}, fusion_dim=32,
                               options=DisVAEOptions(identity_epochs=1, disvae_epochs=1))
    train_config = TrainConfig(batch_size=8, max_steps=2, seed=0)
    model, _ = train(tiny_synthetic, model_config, train_config, progress=False)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", model, model_config, train_config)
