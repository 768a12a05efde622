#!/bin/bash
# Issue 11's recipe variants side by side on a lent GPU machine (one GPU, 16 cores), all from one step 1 trained on
# 2 CPU cores and carried there: each variant is train/jobs/fourway_full.sh's step 2 with its own STEP2_OPTIONS,
# then its arms (leak nulling, with or without the nulled-generator stage), each scored on validation people (seeds
# 2 and 3). The recipe is the CPU one, epoch for epoch; only the device differs. The variants chosen on the GPU are
# then rerun on 2 CPU cores, where the training time is a bar. Not yet run on a GPU: written for the sitting of
# 2026-12-04 (late), whose device call was refused (no machine lent at that time); its logic was tried here with
# stand-in jobs and on 4 generator people.
#
#   train/jobs/fourway_device_sweep.sh STEP1_OUT_DIR RESULTS_DIR [SECONDS]
#
# STEP1_OUT_DIR holds a/ (step 1, from `UNTIL=a train/jobs/fourway_full.sh`) and the bundle's bundle-val{2,3}.*;
# every variant runs in STEP1_OUT_DIR/<variant>. RESULTS_DIR gets scores.tar.gz (every score, log and training
# record; rewritten every 20 s, so a run stopped at SECONDS still returns what finished) and each variant's g20
# weights as <variant>-g20-weights.tar. Then, here: tar xzf scores.tar.gz and
# python train/jobs/fourway_table.py STEP1_OUT_DIR/<variant> bundle ARM...
set -uo pipefail
base=${1:?usage: train/jobs/fourway_device_sweep.sh STEP1_OUT_DIR RESULTS_DIR [SECONDS]}
results=${2:?usage: train/jobs/fourway_device_sweep.sh STEP1_OUT_DIR RESULTS_DIR [SECONDS]}
limit=${3:-520}
jobs=$(dirname "$0")
start=$(date +%s)
mkdir -p "$results"
export IDENTITIES=${IDENTITIES:-2000} WARMUP=${WARMUP:-6} AUTOENCODER=${AUTOENCODER:-1} JOINT=${JOINT:-4}  # fw22's
export OPTIONS="--encoder-channels 32 64 128 256 --encoder-depth 1 --warmup-readout-weight 10"
null="--nulling-class-draw 48"
arm() {  # arm VARIANT STEP2_OPTIONS ARM:THRESHOLD:ARM_OPTIONS: fourway_full.sh with that one arm (step 2 first if needed)
  local arm_name threshold arm_options
  IFS=: read -r arm_name threshold arm_options <<< "$3"
  STEP2_OPTIONS="$2" ARMS="$arm_name:$threshold" ARM_OPTIONS="$null $arm_options" \
    timeout $((limit - ($(date +%s) - start))) "$jobs/fourway_full.sh" "$base/$1"
}
variant() {  # variant NAME "STEP2_OPTIONS" ARM:THRESHOLD:"ARM_OPTIONS"...: step 2 with the first arm, then the rest
  local name=$1 step2=$2 first=$3; shift 3
  mkdir -p "$base/$name" && cp -r "$base/a" "$base"/bundle-val* "$base/$name/"
  arm "$name" "$step2" "$first" & local step2_job=$!
  until grep -qs "^saved" "$base/$name/long.log"; do  # the other arms start from step 2's weights, once saved
    kill -0 $step2_job 2>/dev/null || return; sleep 5
  done
  for other in "$@"; do arm "$name" "$step2" "$other" & done
  wait
}
collect() {  # what finished so far (scores, logs, training records), small enough to come back every time
  find "$base" \( -name '*-val*.json' -o -name '*-val*.txt' -o -name '*.log' -o -name training_run.json \) -print0 |
    tar czf "$results/scores.tmp.tar.gz" --null -T - && mv "$results/scores.tmp.tar.gz" "$results/scores.tar.gz"
}
variant control "" "w20:0.02:" "g20:0.02:--nulling-generator 1" "g20x2:0.02:--nulling-generator 2" &
variant swap6 "--swap-target-weight 6" "w20:0.02:" "g20:0.02:--nulling-generator 1" &
variant factor10 "--factor-probe-weight 10" "w20:0.02:" "g20:0.02:--nulling-generator 1" &
variant magnitude "--readout-magnitude" "w20:0.02:" "g20:0.02:--nulling-generator 1" &
while [ -n "$(jobs -r)" ] && [ $(($(date +%s) - start)) -lt "$limit" ]; do collect; sleep 20; done
wait
collect
for v in control swap6 factor10 magnitude; do  # each variant's g20 weights (about 11 MB; at most 8 files, 64 MB come back)
  [ -d "$base/$v/g20/synthetic-fourway" ] && tar cf "$results/$v-g20-weights.tar" "$base/$v/g20/synthetic-fourway"
done
echo "sweep done in $(($(date +%s) - start)) s"
