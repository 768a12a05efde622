"""Data-parallel training under torchrun: 2 CPU processes (gloo) train a few steps and must end
with identical weights while each saw its own share of the batches."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), *args]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_two_processes_end_with_identical_weights(tmp_path):
    _torchrun(str(ROOT / "tests" / "distributed_worker.py"), str(tmp_path))
    for method in ("adversarial", "swap"):
        ranks = [load_file(str(tmp_path / f"{method}-rank{r}.safetensors")) for r in (0, 1)]
        assert ranks[0].keys() == ranks[1].keys()
        assert all(torch.equal(ranks[0][k], ranks[1][k]) for k in ranks[0]), method
    shares = [json.loads((tmp_path / f"batches-rank{r}.json").read_text()) for r in (0, 1)]
    assert shares[0]["world"] == 2
    seen = [{i for batch in s["batches"] for i in batch} for s in shares]
    assert len(shares[0]["batches"]) == len(shares[1]["batches"]) > 0
    assert not seen[0] & seen[1]  # each rank trained on its own images, so equal weights mean synced gradients


def test_torchrun_cli_saves_one_checkpoint(tmp_path):
    result = _torchrun("-m", "train", "--method", "swap", "--data", "synthetic:identities=4,per_identity=8",
                       "--channels", "4", "8", "8", "8", "--fusion-dim", "16", "--batch-size", "8",
                       "--epochs", "1", "--max-steps", "2", "--out", str(tmp_path), "--name", "ddp",
                       cwd=tmp_path)  # TensorBoard logs and state under tmp_path/runs/ddp
    run = json.loads((tmp_path / "ddp" / "training_run.json").read_text())
    assert run["device"] == "cpu × 2 processes"
    assert result.stdout.count("saved ") == 1  # rank 0 alone reports and saves
    assert len(list((tmp_path / "runs" / "ddp").glob("events.out.tfevents.*"))) == 1  # and logs
