#!/bin/bash
# The fourway trials of --swap-change-weight (synthetic-fourway's LIMITS): 4 joint epochs of the
# bundled step-3 recipe from the bundled weights, without and with the change term, each scored on
# the validation people, never the test set. About 7 min a trial on 2 CPU cores (10 with a refine block).
#
#   git worktree add /tmp/fw 3250023          # the weights the trials started from
#   train/jobs/fourway_change_trials.sh /tmp/fw/checkpoints/synthetic-fourway runs/fwt
#
# SET=refine (third argument) runs the same recipe without and with a residual block grown at the
# generator's full resolution (--decoder-refine 1), from the weights bundled since 1561737
# (synthetic-fourway's LIMITS has the figures):
#
#   train/jobs/fourway_change_trials.sh checkpoints/synthetic-fourway runs/fwr refine
#
# SET=tasks runs it with the task losses weighted up, from the same weights: the expression triplet
# and head ×10, then every task loss ×10 (pose, identity, expression, head, style), against the
# refine set's control (same recipe, same start; the trials are deterministic, so it is not rerun):
#
#   train/jobs/fourway_change_trials.sh checkpoints/synthetic-fourway runs/fwr tasks
#
# SET=adversarial runs it with both critics' terms (D_z's prior, D_x's image realism) weighted
# ×0.1, then off, against the same control: at the end of the bundled run both critics won outright
# (accuracy 0.99 and 1.00) while the expression head read 47 % of *training* faces:
#
#   train/jobs/fourway_change_trials.sh checkpoints/synthetic-fourway runs/fwr adversarial
set -euo pipefail
init=${1:?usage: fourway_change_trials.sh INIT_CHECKPOINT OUT_DIR}
out=${2:?usage: fourway_change_trials.sh INIT_CHECKPOINT OUT_DIR [change|refine|tasks|adversarial]}
set_name=${3:-change}
validation=synthetic:identities=48,per_identity=28,identity_seed=2,seed=2,min_intensity=0.25,pose_range=35,roll_range=15
mkdir -p "$out"

trial() {
  local name=$1; shift
  python -m train --method fourway --name synthetic-fourway --init "$init" \
    --data synthetic:identities=200,per_identity=35,min_intensity=0.25,pose_range=35,roll_range=15 --validation 0.1 \
    --autoencoder-epochs 0 --mapping-epochs 0 --joint-epochs 4 --swap-target-weight 1 --swap-target-attributes 4 \
    --expression-region-weight 3 --lr 0.0003 --lr-schedule onecycle --threads 2 --save-every 1000 \
    --out "$out/$name" --logs "$out/tb-$name" "$@" > "$out/$name.log" 2>&1
  python -m train.evaluate --checkpoint "$out/$name/synthetic-fourway" --data "$validation" --quiet --threads 2 \
    --out "$out/$name-val.json" > "$out/$name-val.txt" 2>&1
  grep -E "Reconstruction PSNR|swapping z_|yaw mean|highest" "$out/$name-val.txt" || true
}

if [ "$set_name" = change ]; then
  trial control
  trial change1 --swap-change-weight 1
  trial change01 --swap-change-weight 0.1
elif [ "$set_name" = refine ]; then
  trial control
  trial refine1 --decoder-refine 1
elif [ "$set_name" = tasks ]; then
  [ -d "$out/control" ] || trial control
  trial expression10 --expression-weight 10 --head-weight 10
  trial tasks10 --pose-weight 10 --identity-weight 10 --expression-weight 10 --head-weight 10 --style-weight 10
elif [ "$set_name" = adversarial ]; then
  [ -d "$out/control" ] || trial control
  [ -f "$out/adversarial01-val.txt" ] || trial adversarial01 --latent-adversarial-weight 0.1 --image-adversarial-weight 0.1
  trial adversarial0 --latent-adversarial-weight 0 --image-adversarial-weight 0
else
  echo "unknown trial set '$set_name': change, refine, tasks or adversarial" >&2; exit 2
fi
