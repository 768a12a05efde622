#!/bin/bash
# The teacher-cycle check on the photo model (issue 12): 3 epochs from the bundled photo-swap, the
# previous fine-tune's options (lr 2e-4 onecycle), without the teacher (control) and with
# --teacher-weight 10 --teacher-cycle-weight 30, each scored on validation people only (never the
# test split): train.evaluate --split val, and --recogniser on London's validation people.
#
#   train/jobs/photo_teacher_trials.sh [OUT_DIR [ARM...]]   (default runs/tc, arms control and cycle:
#                                                            2026-12-03's run)
#
# Arm warm (2026-12-03, later): the cycle arm with the teacher's head first trained alone for 2 epochs
# (--teacher-warmup-epochs 2), compared with the control above (train/jobs/photo_teacher_trials.sh runs/tc warm).
#
# The teacher's dlib descriptors of the 26,013 training images are computed on the first run with
# the teacher and cached (.cache/recogniser; about 40 min on one core for FER2013). As run on
# 2026-12-03: the control with --threads 1 beside other work (43 min), the teacher arm with
# --threads 2 alone (28 min after its descriptors were cached).
set -euo pipefail
out=${1:-runs/tc}
shift || true
arms=("$@")
[ ${#arms[@]} -gt 0 ] || arms=(control cycle)
mkdir -p "$out"
arm() {
  local name=$1 threads=$2; shift 2
  python -m train --method swap --name photo-swap --out "$out/$name" --logs "$out/tb-$name" --state-dir "$out/$name-state" \
    --init checkpoints/photo-swap --data london:.devdata/london fer2013:.devdata/fer2013 --holdout 0.2 --validation 0.1 \
    --hflip --affine 0.5 --epochs 3 --batch-size 128 --lr 0.0002 --lr-schedule onecycle --save-every 100 \
    --threads "$threads" "$@" > "$out/$name.log" 2>&1
  python -m train.evaluate --checkpoint "$out/$name/photo-swap" --split val --quiet --threads 2 \
    --out "$out/$name-val.json" > "$out/$name-val.txt" 2>&1
  python -m train.evaluate --checkpoint "$out/$name/photo-swap" --recogniser --split val --data london:.devdata/london \
    --quiet --threads 2 --out "$out/$name-rec.json" > "$out/$name-rec.txt" 2>&1
  echo "== $name"; grep -iE "identified|face found|PSNR|colour|Expression accuracy, model" "$out/$name-val.txt" "$out/$name-rec.txt" || true
}
for a in "${arms[@]}"; do
  case $a in
    control) arm control 1 ;;
    cycle) arm cycle 2 --teacher-weight 10 --teacher-cycle-weight 30 ;;
    warm) arm warm 2 --teacher-weight 10 --teacher-cycle-weight 30 --teacher-warmup-epochs 2 ;;
    *) echo "unknown arm $a (control, cycle, warm)" >&2; exit 2 ;;
  esac
done
