#!/usr/bin/env bash
# `make gpu-check` on the GPU machine a task may be lent (see the `device` tool's README).
#
# That machine has no network, and its python3 holds PyTorch with CUDA, numpy, pytest and
# hypothesis but not array-api-compat (rlhf_mini's dependency) or sybil (the root
# conftest.py). `make gpu-kit` downloads those two pure wheels into build/gpukit/ here; carry
# that folder and run this script there, e.g. with the device tool:
#
#     run(command="bash bench/gpu_device.sh", carry=["build/gpukit"], timeout_s=420)
#
# It installs the wheels into a private folder (nothing is fetched), puts the checkout on
# PYTHONPATH (no install) and runs bench/gpu_check.py: the gpu tests, then the
# numpy-CPU / torch-CPU / torch-CUDA throughput table. Arguments go to gpu_check.py.
# PYTHON=... picks another interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
kit=build/gpukit
if ! ls "$kit"/*.whl >/dev/null 2>&1; then
  echo "gpu_device.sh: no wheels in $kit; run \`make gpu-kit\` first and carry $kit" >&2
  exit 2
fi
site=$(mktemp -d)
"$python" -m pip install -q --no-index --no-deps --no-compile --target "$site" "$kit"/*.whl
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec "$python" bench/gpu_check.py "$@"
