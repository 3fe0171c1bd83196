#!/bin/sh
# Trains the normalization ablation of docs/layers.md: for each variant, a base run and three
# quality levels fine-tuned from it (configs/ablation/*.flags). Rerunning resumes from the
# checkpoints. Usage: scripts/normalization_ablation.sh TRAIN_GLOB [VARIANT...]
set -eu
train_glob=$1
shift
variants=${*:-gdn group instance layer relu}
for variant in $variants; do
  dir=runs/ablation/$variant
  compressor train --flagfile=configs/ablation/base.flags --train_glob="$train_glob" \
    --normalization="$variant" --model_dir="$dir/base" --name="ablation-$variant-base"
  for level in q1 q2 q3; do
    compressor train --flagfile="configs/ablation/$level.flags" --train_glob="$train_glob" \
      --normalization="$variant" --init_from="$dir/base" --model_dir="$dir/$level" \
      --name="ablation-$variant-$level"
  done
done
