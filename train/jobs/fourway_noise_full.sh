#!/bin/bash
# The full fourway recipe with the pixel-noise readout back on, then leak nulling (issue 11; synthetic-fourway's
# LIMITS, 2026-12-03, night). The bundle's steps 1 and 2 dropped the noise readout (--readout-skip noise) because
# it made the encoder write the noise into z_identity and z_expression; leak nulling now removes such traces, so
# this reruns the bundle's three commands with that one option removed from step 2, and nulling at the bundle's
# threshold (n20) and at 0.015 (n15). Each arm and the bundle are scored on validation people (seeds 2 and 3;
# never the test set). About 85 min of training on 2 CPU cores (run it alone on the machine: the training time is
# a bar), 1-2 min per evaluation. The rule is in the message of the commit that added this file; its figures:
#   python train/jobs/fourway_table.py OUT_DIR bundle n20 n15
#
#   train/jobs/fourway_noise_full.sh [OUT_DIR]      (default runs/fw17)
set -euo pipefail
source "$(dirname "$0")/fourway_validation.sh"
out=${1:-runs/fw17}
mkdir -p "$out"
data=synthetic:identities=1000,per_identity=28,min_intensity=0.25,pose_range=35,roll_range=15
common=(--method fourway --name synthetic-fourway --data "$data" --validation 0.1 --swap-target-attributes 4
  --expression-region-weight 3 --latent-adversarial-weight 0.1 --image-adversarial-weight 0.1 --pose-weight 3
  --lr 0.0003 --lr-schedule onecycle --threads 2)
step2=(--swap-target-weight 3 --code-probe-weight 10 --expression-weight 3 --head-weight 3 --identity-weight 3
  --code-readout-weight 10)
[ -f "$out/a/synthetic-fourway/model.safetensors" ] ||
  python -m train "${common[@]}" --latents pose=3 identity=32 expression=32 style=32 --warmup-epochs 12 \
    --autoencoder-epochs 0 --mapping-epochs 0 --joint-epochs 0 --swap-target-weight 1 --out "$out/a" > "$out/a.log" 2>&1
resume=(); [ -f "$out/long-state/latest" ] && resume=(--resume)  # a killed run continues where it stopped
[ -f "$out/long/synthetic-fourway/model.safetensors" ] ||
  python -m train "${common[@]}" "${step2[@]}" --init "$out/a/synthetic-fourway" --warmup-epochs 0 \
    --autoencoder-epochs 2 --mapping-epochs 0 --joint-epochs 10 --save-every 100 --state-dir "$out/long-state" \
    "${resume[@]}" --out "$out/long" > "$out/long.log" 2>&1
arm() {
  local name=$1; shift
  python -m train "${common[@]}" "${step2[@]}" --init "$out/long/synthetic-fourway" --warmup-epochs 0 \
    --autoencoder-epochs 0 --mapping-epochs 0 --joint-epochs 0 --nulling-rounds 30 --nulling-keep 0.25 \
    --nulling-protect --out "$out/$name" "$@" > "$out/$name.log" 2>&1
  for seed in 2 3; do fourway_validation "$out" "$out/$name/synthetic-fourway" "$name" $seed; done
}
arm n20 --leak-threshold 0.02
arm n15 --leak-threshold 0.015
for seed in 2 3; do fourway_validation "$out" checkpoints/synthetic-fourway bundle $seed; done
