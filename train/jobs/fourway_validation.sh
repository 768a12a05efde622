# Sourced by the fourway job scripts: score a checkpoint on the validation people of one seed (2 or 3; never
# the test set, identity_seed 1), writing OUT/NAME-valSEED.json and .txt as train/jobs/fourway_table.py reads them.
#   fourway_validation OUT CHECKPOINT NAME SEED
fourway_validation() {
  python -m train.evaluate --checkpoint "$2" --quiet --threads 2 --out "$1/$3-val$4.json" \
    --data "synthetic:identities=48,per_identity=28,identity_seed=$4,seed=$4,min_intensity=0.25,pose_range=35,roll_range=15" \
    > "$1/$3-val$4.txt" 2>&1
}
