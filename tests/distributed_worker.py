"""Run by tests/test_distributed.py under torchrun: a few data-parallel steps of every method with
several optimizers or its own batch sampler, then each rank writes its weights and its batches."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from safetensors.torch import save_file

from facelab import distributed
from facelab.config import ModelConfig, TrainConfig
from facelab.synthetic import SyntheticFaces
from facelab.training import EpochBatches, train

TINY = dict(channels=(4, 8, 8, 8), latents={"identity": 6, "expression": 4}, fusion_dim=16)


def main(out: Path) -> None:
    with distributed.process_group():
        rank = distributed.rank()
        data = SyntheticFaces(identities=4, per_identity=8, size=64, seed=0, progress=False)
        config = TrainConfig(batch_size=4, max_steps=3, seed=0)
        for method in ("adversarial", "swap"):
            model = ModelConfig(method=method, **TINY, options={"epochs": 1})
            network, history = train(data, model, config, progress=False)
            save_file({k: v.contiguous() for k, v in network.state_dict().items()},
                      str(out / f"{method}-rank{rank}.safetensors"))
        import torch

        batches = EpochBatches(data, config, torch.Generator().manual_seed(0)).epoch(0)
        (out / f"batches-rank{rank}.json").write_text(json.dumps({"batches": batches, "world": history["world_size"]}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
