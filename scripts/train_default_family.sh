#!/usr/bin/env bash
# One stretch of the default family's training campaign: the base run at lambda 0.01 from the
# weights of a bundled (or exported) model, then every quality level fine-tuned from it; or,
# with INIT_FROM `each`, every level continued from its own bundled weights (no base run).
# Each run stops at its time budget and exports; Ctrl-C or SIGTERM saves a checkpoint and
# exports too, and the same command resumes. Then bundle the levels with `compressor models --add`
# (docs/training.md, "Bundled models: the training campaign").
#
#   scripts/train_default_family.sh TRAIN_GLOB RUN_DIR INIT_FROM BASE_MINUTES LEVEL_MINUTES \
#     [TRAIN_FLAG...]
#   nice -n 10 scripts/train_default_family.sh '../shared/data/train/**/*' runs/family \
#     bmshj2018-factorized-q3 70 12 --ema_decay=0.999 > runs/family.log 2>&1 &
#
# BASE_MINUTES 0 skips the base run: the levels start from the one already in RUN_DIR/base.
#   nice -n 10 scripts/train_default_family.sh '../shared/data/train/**/*' runs/family each 0 24
# Any further arguments go to every run (e.g. --ema_decay).
set -euo pipefail
train_glob=$1 run_dir=$2 init_from=$3 base_minutes=$4 level_minutes=$5
shift 5
family=configs/families/bmshj2018-factorized
if [ "$init_from" != each ] && [ "$base_minutes" != 0 ]; then
  compressor train --flagfile="$family/base.flags" --train_glob="$train_glob" \
    --model_dir="$run_dir/base" --init_from="$init_from" --max_minutes="$base_minutes" "$@"
fi
for flagfile in "$family"/q*.flags; do
  level=$(basename "$flagfile" .flags)
  level_init=$run_dir/base
  [ "$init_from" = each ] && level_init=bmshj2018-factorized-$level
  compressor train --flagfile="$flagfile" --train_glob="$train_glob" \
    --model_dir="$run_dir/$level" --init_from="$level_init" --max_minutes="$level_minutes" "$@"
done
