#!/usr/bin/env bash
# The float against the integer hyper-synthesis at several levels: for each level, a hyperprior
# model of FAMILY (mbt2018-mean or bmshj2018-hyperprior) starts from that level of the default
# family (configs/families/FAMILY/from-factorized.flags) and trains STEPS steps with each kind
# of hyper-synthesis, one arm after the other, level by level; then both curves are measured on the validation
# set with real bitstreams, with the BD-rate of the integer curve against the float one. A
# rerun resumes: finished arms stop at once, and the evaluation measures only what it lacks.
#
#   scripts/ab_hyper_synthesis.sh TRAIN_GLOB RUN_DIR FAMILY STEPS LEVEL... [-- TRAIN_FLAG...]
#   nice -n 10 scripts/ab_hyper_synthesis.sh '../shared/data/train/**/*' runs/ab20 \
#     mbt2018-mean 2400 2 3 4 > runs/ab20.log 2>&1 &
set -euo pipefail
train_glob=$1 run_dir=$2 family=$3 steps=$4
shift 4
levels=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do levels+=("$1"); shift; done
[ $# -gt 0 ] && shift
images=../shared/data/val/cbsd68/*.png
float_dirs=() integer_dirs=()
for level in "${levels[@]}"; do
  for kind in float integer; do
    name=$family-$kind-q$level
    compressor train --flagfile="configs/families/bmshj2018-factorized/q$level.flags" \
      --flagfile="configs/families/$family/from-factorized.flags" \
      --init_from="bmshj2018-factorized-q$level" --hyper_synthesis="$kind" --steps="$steps" \
      --name="$name" --train_glob="$train_glob" --model_dir="$run_dir/$name" "$@"
    if [ "$kind" = float ]; then float_dirs+=("$run_dir/$name"); else integer_dirs+=("$run_dir/$name"); fi
  done
done
compressor evaluate --curve "float=$(IFS=,; echo "${float_dirs[*]}")" \
  --curve "integer=$(IFS=,; echo "${integer_dirs[*]}")" --anchor=float --codecs= \
  --images "$images" --output_dir "$run_dir/eval-$family"
