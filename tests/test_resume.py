"""Training survives being killed: a real `python -m train` process is SIGKILLed mid-run, resumed
with --resume, and must end with exactly the weights of an uninterrupted run (CPU, one thread); a
run with per-person batches, stopped in-process mid-epoch, must too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from facelab.config import TrainConfig
from facelab.train_state import LATEST, ResumeError, load_state

ROOT = Path(__file__).resolve().parents[1]
# Two stages (identity VAE, then DisVAE) so the kill can land in the second one.
ARGS = ["--method", "disvae", "--data", "synthetic:identities=6,per_identity=8", "--channels", "4", "8", "8", "8",
        "--fusion-dim", "16", "--batch-size", "8", "--identity-epochs", "3", "--disvae-epochs", "30",
        "--save-every", "5", "--threads", "1", "--logs", "", "--seed", "3", "--name", "run"]


def _command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "train", *ARGS, "--out", str(out), "--state-dir", str(out / "state"), *extra]


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "run" / "model.safetensors"))


def _saved_position(state: Path) -> str:
    try:
        return (state / LATEST).read_text().strip()
    except FileNotFoundError:
        return ""


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    subprocess.run(_command(out), cwd=ROOT, env=_env(), check=True, capture_output=True)
    return out


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(uninterrupted, tmp_path):
    proc = subprocess.Popen(_command(tmp_path), cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state = tmp_path / "state"
    deadline = time.monotonic() + 120
    try:
        # kill once a mid-epoch save of the second stage exists: not on a stage or epoch boundary
        while not (_saved_position(state).startswith("stage1-") and not _saved_position(state).endswith("-batch0")):
            assert proc.poll() is None, "training finished before it could be killed; lengthen ARGS"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = _saved_position(state)
    assert not (tmp_path / "run" / "model.safetensors").exists()

    subprocess.run(_command(tmp_path, "--resume"), cwd=ROOT, env=_env(), check=True, capture_output=True)
    resumed, expected = _weights(tmp_path), _weights(uninterrupted)
    assert resumed.keys() == expected.keys()
    different = [k for k in expected if not torch.equal(resumed[k], expected[k])]
    assert not different, f"resumed from {killed_at}: {len(different)} tensors differ, e.g. {different[:3]}"


def test_resume_refuses_a_state_from_other_settings(uninterrupted):
    from facelab.config import ModelConfig

    with pytest.raises(ResumeError, match="batch_size"):
        load_state(uninterrupted / "state", {"model": {}, "training": TrainConfig(batch_size=4).to_dict()})
    with pytest.raises(ResumeError, match="nothing to resume"):
        load_state(uninterrupted / "missing", {"model": ModelConfig().to_dict()})


def test_person_batches_resume_mid_epoch_with_the_same_order(tmp_path, monkeypatch):
    """The person sampler draws each pass's order from its seed and its own pass count: a run stopped
    mid-epoch (in-process, after a saved step) and resumed lists the same batches and ends with the
    uninterrupted run's weights."""
    from facelab.config import ModelConfig
    from facelab.methods import fourway
    from facelab.synthetic import SyntheticFaces
    from facelab.training import train

    data = SyntheticFaces(identities=6, per_identity=10, size=64, seed=0, progress=False, pose_range=35,
                          roll_range=15, factor_labels=True)
    c = ModelConfig(method="fourway", channels=(8, 16, 16, 16), latents={"pose": 3, "identity": 6, "expression": 4,
                    "style": 4}, fusion_dim=32, options={"autoencoder_epochs": 2, "mapping_epochs": 2})
    tc = TrainConfig(batch_size=8, seed=0, device="cpu", save_every=3)
    torch.set_num_threads(1)
    whole, _ = train(data, c, tc, progress=False)

    real, calls = fourway.mapping_loss, {"n": 0}

    def stopping(o):
        loss = real(o)

        def counted(net, batch):
            calls["n"] += 1
            if calls["n"] == 11:  # mapping's second epoch, after the save at its 9th step
                raise KeyboardInterrupt("stopped")
            return loss(net, batch)
        return counted

    monkeypatch.setattr(fourway, "mapping_loss", stopping)
    with pytest.raises(KeyboardInterrupt):
        train(data, c, tc, progress=False, state_dir=tmp_path / "state")
    assert _saved_position(tmp_path / "state").startswith("stage1-epoch1")
    state = tmp_path / "state"
    saved = json.loads((state / _saved_position(state) / "state.json").read_text())["history"]
    before = saved["stage_seconds_running"]["mapping"]  # the stage's seconds up to the saved step
    assert before > 0 and "autoencoder" in saved["stage_seconds"]
    monkeypatch.setattr(fourway, "mapping_loss", real)
    resumed, history = train(data, c, tc, progress=False, state_dir=tmp_path / "state", resume=True)
    for key, value in whole.state_dict().items():
        assert torch.allclose(value, resumed.state_dict()[key], atol=1e-6), key
    # the resumed run's record counts the whole stage, the part before the stop included
    assert history["stage_seconds"]["mapping"] > before
    assert history["stage_seconds"]["autoencoder"] == saved["stage_seconds"]["autoencoder"]
    assert "stage_seconds_running" not in history
