#!/bin/bash
# A short check of the PatchGAN critic (swap --critic-weight / --feature-matching-weight) on the photo
# model before any long run (the photo-model issue asks for a short run per idea): the same few steps
# from the bundled weights without and with the critic, each scored on London's and FER2013's
# validation people (never the test split), with dlib's recogniser for the photo figures.
#
#   train/jobs/photo_critic_trials.sh checkpoints/photo-swap runs/pct [STEPS]
#
# SET=ssim (fourth argument) runs 1 − SSIM next to the squared error (--ssim-weight 100) against the
# same control (deterministic from the same start, so not rerun when OUT has it):
#
#   train/jobs/photo_critic_trials.sh checkpoints/photo-swap runs/pct 150 ssim
#
# Per trial NAME: OUT/NAME.log (training), OUT/NAME-val.txt (train.evaluate --split val) and
# OUT/NAME-rec.txt (--recogniser on London's validation people).
set -euo pipefail
init=${1:?usage: photo_critic_trials.sh INIT_CHECKPOINT OUT_DIR [STEPS] [critic|ssim]}
out=${2:?usage: photo_critic_trials.sh INIT_CHECKPOINT OUT_DIR [STEPS] [critic|ssim]}
steps=${3:-40}
set_name=${4:-critic}
data=../shared/data
mkdir -p "$out"

trial() {
  local name=$1; shift
  python -m train --method swap --name photo-swap --init "$init" --out "$out/$name" --logs "$out/tb-$name" \
    --data "london:$data/london" "fer2013:$data/fer2013" --holdout 0.2 --validation 0.1 --hflip --affine 0.5 \
    --epochs 1 --max-steps "$steps" --batch-size 128 --lr 0.0001 --save-every 1000 --threads 2 "$@" \
    > "$out/$name.log" 2>&1
  python -m train.evaluate --checkpoint "$out/$name/photo-swap" --split val --quiet --threads 2 \
    --out "$out/$name-val.json" > "$out/$name-val.txt" 2>&1
  python -m train.evaluate --checkpoint "$out/$name/photo-swap" --recogniser --split val --data "london:$data/london" \
    --quiet --threads 2 --out "$out/$name-rec.json" > "$out/$name-rec.txt" 2>&1
  echo "== $name"; grep -iE "identified|face found|PSNR|colour|Expression accuracy, model" "$out/$name-val.txt" "$out/$name-rec.txt" || true
}

if [ "$set_name" = critic ]; then
  trial control
  trial critic --critic-weight 1 --feature-matching-weight 10
elif [ "$set_name" = ssim ]; then
  [ -d "$out/control" ] || trial control
  trial ssim --ssim-weight 100
else
  echo "unknown trial set '$set_name': critic or ssim" >&2; exit 2
fi
