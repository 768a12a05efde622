#!/bin/bash
# The full fourway recipe with blind person probes (issue 11; synthetic-fourway's LIMITS, 2026-12-03):
# the bundle's step-2 command from the bundle's step-1 weights (runs/fw14/a, the card's first command)
# with --person-probe-weight 10 added, then the new weights and the bundle scored on validation people
# (seeds 2 and 3; never the test set). About 80 min of training on 2 CPU cores, 2 min per evaluation.
# The rule (commit ce5efe3's message) is checked by train/jobs/fourway_table.py OUT_DIR bundle new.
#
#   train/jobs/fourway_person_full.sh [OUT_DIR]      (default runs/fw16p; needs runs/fw14/a/synthetic-fourway)
set -euo pipefail
out=${1:-runs/fw16p}
mkdir -p "$out"
python -m train --method fourway --name synthetic-fourway --init runs/fw14/a/synthetic-fourway \
  --data synthetic:identities=1000,per_identity=28,min_intensity=0.25,pose_range=35,roll_range=15 --validation 0.1 \
  --warmup-epochs 0 --autoencoder-epochs 2 --mapping-epochs 0 --joint-epochs 10 --swap-target-weight 3 \
  --swap-target-attributes 4 --expression-region-weight 3 --pose-weight 3 --code-probe-weight 10 \
  --expression-weight 3 --head-weight 3 --identity-weight 3 --code-readout-weight 10 --readout-skip noise \
  --latent-adversarial-weight 0.1 --image-adversarial-weight 0.1 --person-probe-weight 10 --lr 0.0003 \
  --lr-schedule onecycle --threads 2 --save-every 100 --state-dir "$out/long-state" --out "$out/long" \
  > "$out/long.log" 2>&1
for seed in 2 3; do
  v="synthetic:identities=48,per_identity=28,identity_seed=$seed,seed=$seed,min_intensity=0.25,pose_range=35,roll_range=15"
  python -m train.evaluate --checkpoint "$out/long/synthetic-fourway" --data "$v" --quiet --threads 2 \
    --out "$out/new-val$seed.json" > "$out/new-val$seed.txt" 2>&1
  python -m train.evaluate --checkpoint checkpoints/synthetic-fourway --data "$v" --quiet --threads 2 \
    --out "$out/bundle-val$seed.json" > "$out/bundle-val$seed.txt" 2>&1
done
