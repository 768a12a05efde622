"""Training survives being killed: a real `python -m train` process is SIGKILLed mid-run, resumed
with --resume, and must end with exactly the weights of an uninterrupted run (CPU, one thread)."""

from __future__ import annotations

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
