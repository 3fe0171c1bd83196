#!/usr/bin/env bash
# After a level of a campaign stretch has exported: bundles it into a staging directory of
# bundled models (in float16, measured, as `compressor models --add` does) and measures the
# staged family so far on the validation set, at the lowest priority, so that it can run
# while the next level trains. Rerunning bundles the level again; the evaluation measures only
# what it lacks.
#
#   scripts/stage_family_level.sh RUN_DIR STAGE_DIR EVAL_DIR LEVEL ['VALIDATION_GLOB']
#   scripts/stage_family_level.sh runs/family runs/stage runs/eval-family 1
#
# Then compare EVAL_DIR/curves/bmshj2018-factorized.json with docs/cbsd68/ (docs/training.md)
# and, if the staged family is better, replace compressor/coding/bundled/ with it.
set -euo pipefail
run_dir=$1 stage_dir=$2 eval_dir=$3 level=q$4
images=${5:-../shared/data/val/cbsd68/*.png}
family=bmshj2018-factorized
mkdir -p "$stage_dir"
COMPRESSOR_BUNDLED_DIR=$stage_dir nice -n 19 compressor models --add "$run_dir/$level" \
  --name "$family-$level" --measure_images "$images" --measured_on CBSD68
models=$(ls -d "$stage_dir/$family"-q* | paste -sd, -)
COMPRESSOR_BUNDLED_DIR=$stage_dir nice -n 19 compressor evaluate --curve "$family=$models" \
  --codecs= --anchor= --images "$images" --output_dir "$eval_dir"
