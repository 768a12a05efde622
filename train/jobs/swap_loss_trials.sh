#!/bin/bash
# The 60-step trials that chose swap-synthetic's step-6 loss weights (its LIMITS section), each from
# the same weights and scored on the validation people, never the test set:
#
#   git worktree add /tmp/step5 8b0fb4e      # the weights bundled before step 6
#   train/jobs/swap_loss_trials.sh /tmp/step5/checkpoints/swap-synthetic runs/trial
#
# and the heavier weights tried from the step-6 weights before step 7 (SET=step7):
#
#   git worktree add /tmp/step6 386886f
#   train/jobs/swap_loss_trials.sh /tmp/step6/checkpoints/swap-synthetic runs/trial7 step7
#   train/jobs/swap_loss_trials.sh /tmp/step6/checkpoints/swap-synthetic runs/trial7 step7b
#
# and the PatchGAN critic against step 8's recipe, from the step-8 weights (SET=critic):
#
#   train/jobs/swap_loss_trials.sh checkpoints/swap-synthetic runs/trial8 critic
#
# and a decoder widened to 48 channels in its 32- and 64-px stages, from the step-8 weights (SET=wide;
# its control is the critic set's step8 trial):
#
#   train/jobs/swap_loss_trials.sh checkpoints/swap-synthetic runs/trial9 wide
#
# Per trial NAME it writes runs/trial/NAME.log (training), NAME-split.txt/.json
# (bench/swap_gain_ceiling.py --checkpoint: the error on the changed pixels and on the rest) and
# NAME-val.txt/.json (train.evaluate on the validation people). About 8 min a trial on 2 CPU cores.
set -euo pipefail
init=${1:?usage: swap_loss_trials.sh INIT_CHECKPOINT OUT_DIR}
out=${2:?usage: swap_loss_trials.sh INIT_CHECKPOINT OUT_DIR [step6|step7|step7b|critic|wide]}
set_name=${3:-step6}
validation=synthetic:identities=48,per_identity=28,identity_seed=2,seed=2,min_intensity=0.25
mkdir -p "$out"

trial() {
  local name=$1; shift
  python -m train --method swap --name swap-synthetic --out "$out/$name" --logs "$out/tb-$name" --init "$init" \
    --data synthetic:identities=1000,per_identity=20,min_intensity=0.25 --validation 0.1 \
    --identity-swap-weight 1.0 --decoder-refine 1 --epochs 1 --max-steps 60 --batch-size 128 --lr 0.0001 \
    --save-every 1000 --threads 2 "$@" > "$out/$name.log" 2>&1
  python bench/swap_gain_ceiling.py --checkpoint "$out/$name/swap-synthetic" --data "$validation" --threads 2 \
    --out "$out/$name-split.json" | tee "$out/$name-split.txt"
  python -m train.evaluate --checkpoint "$out/$name/swap-synthetic" --data "$validation" --quiet --threads 2 \
    --out "$out/$name-val.json" > "$out/$name-val.txt" 2>&1
  grep -E "swap PSNR − no-swap|Reconstruction PSNR|classified as B's expression" "$out/$name-val.txt" || true
}

if [ "$set_name" = step6 ]; then
  trial d10 --detail-weight 10                                     # the recipe of steps 4 and 5
  trial d40 --detail-weight 40
  trial d40s4 --detail-weight 40 --swap-weight 4
  trial d40c4 --detail-weight 40 --change-weight 4
  trial d40s4c4 --detail-weight 40 --swap-weight 4 --change-weight 4
elif [ "$set_name" = step7 ]; then
  trial d40s4c4 --detail-weight 40 --swap-weight 4 --change-weight 4  # step 6's recipe, continued
  trial d40s8c8 --detail-weight 40 --swap-weight 8 --change-weight 8
  trial d40s4c16 --detail-weight 40 --swap-weight 4 --change-weight 16
elif [ "$set_name" = step7b ]; then  # the changed pixels' error did not move with heavier swap/change weights
  trial d80s8c8 --detail-weight 80 --swap-weight 8 --change-weight 8
  trial r2d40s8c8 --decoder-refine 2 --detail-weight 40 --swap-weight 8 --change-weight 8
elif [ "$set_name" = critic ]; then  # from step 8's weights (its decoder has the mid-stage blocks)
  trial step8 --decoder-mid-refine 1 --detail-weight 40 --swap-weight 8 --change-weight 8
  trial critic --decoder-mid-refine 1 --detail-weight 40 --swap-weight 8 --change-weight 8 \
    --critic-weight 1 --feature-matching-weight 10
elif [ "$set_name" = wide ]; then  # from step 8's weights; the new channels start silent (training.load_grown)
  trial wide48 --decoder-mid-refine 1 --detail-weight 40 --swap-weight 8 --change-weight 8 \
    --decoder-min-channels 48 --channels-last
else
  echo "unknown trial set '$set_name': step6, step7, step7b, critic or wide" >&2; exit 2
fi
