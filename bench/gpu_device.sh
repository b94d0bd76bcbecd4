#!/usr/bin/env bash
# `make gpu-check` on a CUDA machine without network access or a virtualenv.
#
# Such a machine's python3 may hold PyTorch with CUDA, numpy, pytest and hypothesis but not
# array-api-compat (rlhf_mini's dependency) or sybil (the root conftest.py). On a machine with
# network access, `make gpu-kit` downloads those two pure wheels into build/gpukit/; copy the
# checkout with that folder to the CUDA machine and run, from the checkout (under 5 minutes):
#
#     bash bench/gpu_device.sh
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
