"""train.timed: jobs sized to a wall-clock budget from a probe's speed."""

from __future__ import annotations

import json

from train import timed


def test_epoch_flags_scale_together_to_the_step_budget(tmp_path):
    jobs = tmp_path / "jobs.txt"
    jobs.write_text("# comment\n--method fourway --name a --autoencoder-epochs 16 --mapping-epochs 6 --joint-epochs 12\n\n"
                    "--method swap --name b --epochs 1  # one stage\n")
    a, b = timed.read_jobs(jobs)
    assert timed.flag_value(a, "--name") == "a" and b[-2:] == ["--epochs", "1"]
    scaled = timed.epoch_flags(timed.scale_epochs(a, steps=340 * 100, steps_per_epoch=100))
    assert scaled == {"--autoencoder-epochs": 160, "--mapping-epochs": 60, "--joint-epochs": 120}
    assert timed.epoch_flags(timed.scale_epochs(a, steps=10, steps_per_epoch=100)) == {
        "--autoencoder-epochs": 1, "--mapping-epochs": 1, "--joint-epochs": 1}  # never below one epoch
    assert timed.epoch_flags(timed.scale_epochs(b, steps=2500, steps_per_epoch=211)) == {"--epochs": 11}


def test_probe_then_timed_run_on_a_tiny_job(tmp_path):
    jobs = tmp_path / "jobs.txt"
    jobs.write_text(f"--method swap --name tiny --out {tmp_path / 'out'} --logs {tmp_path / 'tb'} --threads 1 "
                    "--data synthetic:identities=6,per_identity=4 --batch-size 8 --epochs 1\n")
    assert timed.main(["--jobs", str(jobs), "--budget", "3", "--probe-steps", "2", "--logs", str(tmp_path / "logs")]) == 0
    run = json.loads((tmp_path / "out" / "tiny" / "training_run.json").read_text())
    assert "--epochs" in run["command"] and set(run["stage_seconds"]) == {"swap"}
