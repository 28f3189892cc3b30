#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one go: the CUDA tests, then the speed table on the GPU.
#
#   benchmarks/gpu.sh OUTDIR [more benchmarks/speed.py options]
#
# Writes into OUTDIR: the logs, speed_cuda.json, and a copy of docs/performance.md whose GPU
# table (between "<!-- speed table cuda -->" markers) holds the new figures; copy it back into
# docs/ after reading it. Runs from a checkout without installing it (PYTHONPATH=src), so that a
# bare GPU machine with torch, numpy and scipy needs nothing else. About 9 min on an H200 with
# 16 cores (stop 52): it fits one 10-min device call, not a 15-min lease twice.
set -u
out=${1:?usage: benchmarks/gpu.sh OUTDIR [speed.py options]}
shift
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{ nvidia-smi -L || true; python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"; } \
  2>&1 | tee "$out/gpu.log"
# Third-party pytest plugins are not needed here, and GUI ones would want a display.
PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 python3 -m pytest -q -p no:cacheprovider -rA -k "cuda or device" \
  tests/core/test_run.py tests/core/test_recovery.py 2>&1 | tee "$out/cuda_tests.log"
cp docs/performance.md "$out/performance.md"
python3 benchmarks/speed.py --device cuda --repeats 2 --paper-epochs 3 --out "$out/performance.md" \
  --json "$out/speed_cuda.json" "$@" 2>&1 | tee "$out/speed.log"
