#!/usr/bin/env bash
# Create .venv and install brain-brr with its test extras.
# torch: a CPU wheel on this machine's disk is preferred (a plain `torch` from PyPI is a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if ! python -c "import torch" >/dev/null 2>&1; then
  cpu_wheel=$(ls /opt/wheels/torch-*+cpu-cp311-*.whl 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$cpu_wheel" ]; then
    python -m pip install -q "$cpu_wheel"
  else
    python -m pip install -q "torch>=2.4" --index-url https://download.pytorch.org/whl/cpu || python -m pip install -q "torch>=2.4"
  fi
fi
python -m pip install -q -e ".[test]"
