#!/bin/bash
# The bundled fourway recipe from a fresh network (issue 11; synthetic-fourway's LIMITS): step 1 (warm-up), step 2
# (autoencoder, then joint training; resumable), then leak nulling at one or more thresholds ("arms"). Each arm and
# the bundle are scored on validation people (seeds 2 and 3; never the test set, identity_seed 1). Run it alone on
# the machine: the training time is a bar. Rerun with other ARMS to add arms; what is there is not
# redone. Figures: python train/jobs/fourway_table.py OUT_DIR bundle ARM...
#
#   [IDENTITIES=1000] [WARMUP=12] [AUTOENCODER=2] [JOINT=10] [EXTEND=0 [EXTEND_NAME=..] [EXTEND_OPTIONS=..]] \
#     [OPTIONS=..] [STEP2_OPTIONS=..] \
#     [ARMS="n20:0.02 n15:0.015"] [ARM_OPTIONS=..] [UNTIL=a|long] \
#     train/jobs/fourway_full.sh OUT_DIR
#
# The defaults are the bundle of 2026-12-03 (train/jobs/fourway_noise_full.sh); today's bundle sets them as
# train/jobs/fourway_magnitude_full.sh does, through fourway_readout30_full.sh and fourway_prototype_full.sh.
# IDENTITIES sets how many generator people train it (28 faces each); the epoch counts set each stage's length.
# ARMS: name:leak-threshold each;
# ARM_OPTIONS: more train options for this call's arms (e.g. --nulling-class-draw 48). EXTEND=N: N more joint
# epochs from step 2's weights (OUT_DIR/long-xN, or OUT_DIR/EXTEND_NAME), with EXTEND_OPTIONS added to step 2's
# options there; this call's arms start from those. OPTIONS: more train options for every stage and arm (e.g.
# --encoder-depth 1 or --encoder-channels 32 64 128 256: the network's shape, which every stage must share; or
# --warmup-readout-weight 10, which only step 1 reads). STEP2_OPTIONS: train options after step 2's own (so they
# override them: e.g. --swap-target-weight 6) for step 2, its extension and the arms. UNTIL=a: stop after step 1
# (its weights in OUT_DIR/a can then be shared: copied into other OUT_DIRs, whose calls skip step 1); UNTIL=long:
# stop after step 2 (for a short diagnostic of step 2 alone, e.g. with --max-steps in STEP2_OPTIONS).
set -euo pipefail
source "$(dirname "$0")/fourway_validation.sh"
out=${1:?usage: train/jobs/fourway_full.sh OUT_DIR}
mkdir -p "$out"
data=synthetic:identities=${IDENTITIES:-1000},per_identity=28,min_intensity=0.25,pose_range=35,roll_range=15
common=(--method fourway --name synthetic-fourway --data "$data" --validation 0.1 --swap-target-attributes 4
  --expression-region-weight 3 --latent-adversarial-weight 0.1 --image-adversarial-weight 0.1 --pose-weight 3
  --lr 0.0003 --lr-schedule onecycle --threads 2 ${OPTIONS:-})
step2=(--swap-target-weight 3 --code-probe-weight 10 --expression-weight 3 --head-weight 3 --identity-weight 3
  --code-readout-weight 10 ${STEP2_OPTIONS:-})
[ -f "$out/a/synthetic-fourway/model.safetensors" ] ||
  python -m train "${common[@]}" --latents pose=3 identity=32 expression=32 style=32 --warmup-epochs "${WARMUP:-12}" \
    --autoencoder-epochs 0 --mapping-epochs 0 --joint-epochs 0 --swap-target-weight 1 --out "$out/a" > "$out/a.log" 2>&1
[ "${UNTIL:-}" = a ] && exit 0
resume=(); [ -f "$out/long-state/latest" ] && resume=(--resume)  # a killed run continues where it stopped
[ -f "$out/long/synthetic-fourway/model.safetensors" ] ||
  python -m train "${common[@]}" "${step2[@]}" --init "$out/a/synthetic-fourway" --warmup-epochs 0 \
    --autoencoder-epochs "${AUTOENCODER:-2}" --mapping-epochs 0 --joint-epochs "${JOINT:-10}" --save-every 100 \
    --state-dir "$out/long-state" "${resume[@]}" --out "$out/long" > "$out/long.log" 2>&1
[ "${UNTIL:-}" = long ] && exit 0
base=long
if [ "${EXTEND:-0}" -gt 0 ]; then  # step 2b: more joint epochs from step 2's weights, on a schedule of their own
  base=${EXTEND_NAME:-long-x$EXTEND}
  [ -f "$out/$base/synthetic-fourway/model.safetensors" ] ||
    python -m train "${common[@]}" "${step2[@]}" --init "$out/long/synthetic-fourway" --warmup-epochs 0 \
      --autoencoder-epochs 0 --mapping-epochs 0 --joint-epochs "$EXTEND" ${EXTEND_OPTIONS:-} --out "$out/$base" \
      > "$out/$base.log" 2>&1
fi
for arm in ${ARMS:-n20:0.02 n15:0.015}; do
  name=${arm%%:*}
  [ -f "$out/$name/synthetic-fourway/model.safetensors" ] ||
    python -m train "${common[@]}" "${step2[@]}" --init "$out/$base/synthetic-fourway" --warmup-epochs 0 \
      --autoencoder-epochs 0 --mapping-epochs 0 --joint-epochs 0 --nulling-rounds 30 --nulling-keep 0.25 \
      --nulling-protect --leak-threshold "${arm#*:}" ${ARM_OPTIONS:-} --out "$out/$name" > "$out/$name.log" 2>&1
  for seed in 2 3; do
    [ -f "$out/$name-val$seed.json" ] || fourway_validation "$out" "$out/$name/synthetic-fourway" "$name" $seed
  done
done
for seed in 2 3; do  # the bundle as it stood at the first run into OUT_DIR
  [ -f "$out/bundle-val$seed.json" ] || fourway_validation "$out" checkpoints/synthetic-fourway bundle $seed
done
