#!/bin/bash
# The fourway check of --person-probe-weight (issue 11; synthetic-fourway's LIMITS): one joint epoch from the
# bundled weights at a constant lr 1e-4, the bundled step-2 options otherwise, without (control) and with
# the blind person probes, each scored on validation people (seeds 2 and 3), never the test set. About
# 7 min a trial on 2 CPU cores, plus 1-2 min per evaluation.
#
#   train/jobs/fourway_person_trials.sh [OUT_DIR [ARM...]]      (default runs/fwp, arms control person10)
#
# Arm person10factor10 (2026-12-03, later): the person probes with blind factor probes x10, after the full
# recipe with the person probes moved expression into z_style (train/jobs/fourway_person_trials.sh runs/fwp
# person10factor10; compared with person10 by train/jobs/fourway_table.py runs/fwp control person10 person10factor10).
set -euo pipefail
out=${1:-runs/fwp}
shift || true
arms=("$@")
[ ${#arms[@]} -gt 0 ] || arms=(control person10)
mkdir -p "$out"
validation() {
  echo "synthetic:identities=48,per_identity=28,identity_seed=$1,seed=$1,min_intensity=0.25,pose_range=35,roll_range=15"
}
trial() {
  local name=$1; shift
  python -m train --method fourway --name synthetic-fourway --init checkpoints/synthetic-fourway \
    --data synthetic:identities=1000,per_identity=28,min_intensity=0.25,pose_range=35,roll_range=15 --validation 0.1 \
    --warmup-epochs 0 --autoencoder-epochs 0 --mapping-epochs 0 --joint-epochs 1 --swap-target-weight 3 \
    --swap-target-attributes 4 --expression-region-weight 3 --pose-weight 3 --code-probe-weight 10 \
    --expression-weight 3 --head-weight 3 --identity-weight 3 --code-readout-weight 10 --readout-skip noise \
    --latent-adversarial-weight 0.1 --image-adversarial-weight 0.1 --lr 0.0001 --threads 2 --save-every 1000 \
    --out "$out/$name" --logs "$out/tb-$name" "$@" > "$out/$name.log" 2>&1
  for seed in 2 3; do
    python -m train.evaluate --checkpoint "$out/$name/synthetic-fourway" --data "$(validation $seed)" --quiet \
      --threads 2 --out "$out/$name-val$seed.json" > "$out/$name-val$seed.txt" 2>&1
  done
}
for a in "${arms[@]}"; do
  case $a in
    control) trial control ;;
    person10) trial person10 --person-probe-weight 10 ;;
    person30) trial person30 --person-probe-weight 30 ;;
    person10factor10) trial person10factor10 --person-probe-weight 10 --factor-probe-weight 10 ;;
    *) echo "unknown arm $a (control, person10, person30, person10factor10)" >&2; exit 2 ;;
  esac
done
