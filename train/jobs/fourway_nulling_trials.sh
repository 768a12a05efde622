#!/bin/bash
# The leak-nulling settings tried on synthetic-fourway (issue 11; its LIMITS, 2026-12-03): each arm is a third
# command on step 2's weights (runs/fw15/long/synthetic-fourway, the card's second command; the runs of that
# day named checkpoints/synthetic-fourway as --init, which then held those same weights, except v5), training
# nothing but the closed-form `nulling` stage and `nulled-mapping`; then scored on validation people (seeds 2
# and 3; never the test set). Under a minute of training per arm on 2 CPU cores, about 1 min per evaluation.
# v5 ran with the option's first name, --nulling-epochs 4.
# The rules are in the messages of commits e86d897, f34bbf7 and its follow-ups; their figures:
#   python train/jobs/fourway_table.py OUT_DIR bundle new v1 v2 v3 v4 v5 v6
#
#   train/jobs/fourway_nulling_trials.sh [OUT_DIR [ARM...]]   (default runs/null; arms bundle new v1 v2 v3 v4 v5 v6;
#   arm final: v3's options rerun after the fit was fixed to read every item once, the bundled weights;
#   final01: the same at threshold 0.01)
set -euo pipefail
source "$(dirname "$0")/fourway_validation.sh"
out=${1:-runs/null}
shift || true
arms=("$@")
[ ${#arms[@]} -gt 0 ] || arms=(bundle new v1 v2 v3 v4 v5 v6)
mkdir -p "$out"
trial() {
  local name=$1; shift
  python -m train --method fourway --name synthetic-fourway --init runs/fw15/long/synthetic-fourway \
    --data synthetic:identities=1000,per_identity=28,min_intensity=0.25,pose_range=35,roll_range=15 --validation 0.1 \
    --warmup-epochs 0 --autoencoder-epochs 0 --mapping-epochs 0 --joint-epochs 0 --swap-target-weight 3 \
    --swap-target-attributes 4 --expression-region-weight 3 --pose-weight 3 --code-probe-weight 10 \
    --expression-weight 3 --head-weight 3 --identity-weight 3 --code-readout-weight 10 --readout-skip noise \
    --latent-adversarial-weight 0.1 --image-adversarial-weight 0.1 --lr 0.0003 --lr-schedule onecycle --threads 2 \
    --out "$out/$name" "$@" > "$out/$name.log" 2>&1
  for seed in 2 3; do fourway_validation "$out" "$out/$name/synthetic-fourway" "$name" $seed; done
}
for a in "${arms[@]}"; do
  case $a in
    bundle) for seed in 2 3; do fourway_validation "$out" runs/fw15/long/synthetic-fourway bundle $seed; done ;;  # step 2's weights
    new) trial new --leak-threshold 0.02 ;;
    v1) trial v1 --leak-threshold 0.02 --nulling-rounds 30 --nulling-keep 0.25 ;;
    v2) trial v2 --leak-threshold 0.01 --nulling-rounds 30 --nulling-keep 0.25 ;;
    v3) trial v3 --leak-threshold 0.02 --nulling-rounds 30 --nulling-keep 0.25 --nulling-protect ;;
    v4) trial v4 --leak-threshold 0.01 --nulling-rounds 30 --nulling-keep 0.25 --nulling-protect ;;
    v5) trial v5 --leak-threshold 0.02 --nulling-rounds 30 --nulling-keep 0.25 --nulling-protect --nulling-refit 4 ;;
    final) trial final --leak-threshold 0.02 --nulling-rounds 30 --nulling-keep 0.25 --nulling-protect ;;  # v3 after the fit fix
    final01) trial final01 --leak-threshold 0.01 --nulling-rounds 30 --nulling-keep 0.25 --nulling-protect ;;
    v6) trial v6 --leak-threshold 0.02 --nulling-rounds 30 --nulling-keep 0.25 --nulling-protect --nulling-protect-points ;;
    *) echo "unknown arm $a (bundle new v1 v2 v3 v4 v5 v6 final final01)" >&2; exit 2 ;;
  esac
done
