#!/usr/bin/env bash
# Installs keel from a build tree into a temporary prefix, then configures, builds and runs the
# separate project examples/consumer against it with find_package(Keel CONFIG REQUIRED): tiny_train
# trains and saves its weights, predict loads them and classifies new images. The installed headers
# are the engine's alone: nothing of the Titanic job (apps/titanic) may be among them.
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.log"
test -f "$work/prefix/include/keel/train/trainer.h"
if app_lines=$(grep -rniE "titanic|kaggle|passenger" "$work/prefix/include"); then
    echo "consumer_test: the installed headers mention the Titanic job:" >&2
    echo "$app_lines" >&2
    exit 1
fi
cmake -S "$source_dir/examples/consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
      -DCMAKE_BUILD_TYPE=Release > "$work/configure.log"
cmake --build "$work/build" -j 2 > "$work/build.log"
output=$("$work/build/tiny_train" "$work/bars.safetensors")
echo "$output"
grep -q "training accuracy 1.000" <<< "$output"
# Load-and-predict: the saved weights, new images.
output=$("$work/build/predict" "$work/bars.safetensors")
echo "$output"
grep -q "accuracy 1.000" <<< "$output"
