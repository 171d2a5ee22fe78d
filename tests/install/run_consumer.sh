#!/usr/bin/env bash
# Installs the build into a fresh prefix, then configures, builds and runs a project outside
# the tree against it (find_package(delayprop)), and the installed driver's --version.
#   run_consumer.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
cmake -S "$src/tests/install/consumer" -B "$work/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/consumer" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
"$work/consumer/consumer"
"$work/prefix/bin/delayprop-train" --version
test -f "$work/prefix/share/delayprop/slurm/sweep_array.sbatch"
test -f "$work/prefix/include/delayprop/core/engine.hpp"
echo "install and consumer: OK"
