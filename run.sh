#!/usr/bin/env bash
# AdReel set-up and entry point.
#   ./run.sh setup           install what is missing, nothing else
#   ./run.sh demo            install what is missing, then make a sample video (adreel-demo.mp4)
#   ./run.sh test [ARGS]     install what is missing, then run the test suite (pytest ARGS)
#   ./run.sh bench [NAMES]   run the long benchmarks in tests/benchmarks (off in the default suite)
#   ./run.sh [APP ARGS]      anything else goes to `python app.py` (make, tools, tool, jobs …)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
TORCH_PIN="torch==2.13.0"   # the CPU build; any other version pulls a multi-GB CUDA build

log() { printf '[adreel] %s\n' "$*" >&2; }

install_debian() {
  local need=()
  command -v ffmpeg >/dev/null || need+=(ffmpeg)
  command -v ffprobe >/dev/null || need+=(ffmpeg)
  command -v espeak-ng >/dev/null || need+=(espeak-ng)
  if [ "${1:-}" = test ]; then command -v chromium >/dev/null || need+=(chromium); fi   # the browser test
  command -v fc-list >/dev/null && fc-list :lang=zh family | grep -qi "CJK\|WenQuanYi" || need+=(fonts-noto-cjk fonts-wqy-microhei fontconfig)
  [ ${#need[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${need[*]}"
  local SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { log "please run: apt-get install ${need[*]}  (as root)"; exit 1; }
    SUDO=sudo
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

install_python() {
  local stamp="$VENV/.adreel-stamp" want
  want=$(cat requirements.lock requirements-clip.txt pyproject.toml | sha256sum | cut -c1-16)
  if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  local PY=${PYTHON:-}
  if [ -z "$PY" ]; then
    for c in python3.11 python3.12 python3; do command -v "$c" >/dev/null && { PY=$c; break; }; done
  fi
  [ -n "$PY" ] || { log "Python 3.11 or 3.12 is required"; exit 1; }
  log "creating $VENV with $($PY --version) (first time: a few minutes)"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
  "$VENV/bin/pip" install -q "$TORCH_PIN"
  local cons; cons=$(mktemp); echo "$TORCH_PIN" > "$cons"
  grep -viE '^torch==' requirements.lock > "$cons.req"
  "$VENV/bin/pip" install -q -c "$cons" -r "$cons.req"
  "$VENV/bin/pip" install -q --no-deps -r requirements-clip.txt   # open_clip without its torchvision (see file)
  "$VENV/bin/pip" install -q --no-deps -e .
  rm -f "$cons" "$cons.req"
  echo "$want" > "$stamp"
  warm_up
}

warm_up() {   # numba compiles librosa's kernels into the workspace cache now, not in a user's first job
  log "warming up the music analysis (numba compile, once)"
  "$VENV/bin/python" -m tools.story.music || log "warm-up failed (the first music analysis will compile instead)"
}

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-$ROOT/workspace/cache/numba}
export PYTHONUNBUFFERED=1

install_debian "${1:-demo}"
install_python

cmd=${1:-demo}
case "$cmd" in
  setup) warm_up; exit 0 ;;
  demo) shift || true; exec "$VENV/bin/python" app.py demo "$@" ;;
  test) shift; exec "$VENV/bin/python" -m pytest "$@" ;;
  bench) shift
    # long benchmarks, off in the default suite: every script, or the ones named (e.g. ./run.sh bench render)
    names=("$@"); [ ${#names[@]} -eq 0 ] && names=($(ls tests/benchmarks/bench_*.py | sed 's#.*/bench_##; s#\.py$##'))
    for n in "${names[@]}"; do log "benchmark $n"; "$VENV/bin/python" "tests/benchmarks/bench_$n.py"; done ;;
  *) exec "$VENV/bin/python" app.py "$@" ;;
esac
