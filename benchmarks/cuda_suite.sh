#!/usr/bin/env bash
# One call that measures everything on a GPU machine: benchmarks/cuda_suite.sh [--dry-run] OUTDIR
#
# Makes a fresh venv (OUTDIR/venv) from the repository's own files with a CUDA torch wheel,
# then runs the CUDA tests and the GPU benchmarks, one JSON file per benchmark in OUTDIR,
# printing progress; each step has its own time limit so the whole suite stays within
# ~8 minutes.  A failed step is recorded ({"failed": ...} in its JSON file) and the suite
# goes on; the exit status is 1 when any step failed.
#
# --dry-run: no venv, no installs, no GPU: checks every step it would run with the Python
# given as PYTHON: each benchmark imports and accepts its exact command line
# (benchmarks/check_args.py), the StyleGAN2 one also renders one tiny frame on the CPU,
# and pytest collects the CUDA tests.
#
# Environment:
#   PYTHON        interpreter for the venv (default python3); in --dry-run the one that runs the checks
#   TORCH_SPEC    torch requirement (default "torch")
#   TORCH_INDEX   wheel index for torch (default https://download.pytorch.org/whl/cu126)
#   WHEELHOUSE    a folder of wheels: install offline from it (--no-index) instead of the network
#   SUITE_REUSE_TORCH=1  give the venv the system site-packages and keep a CUDA torch found there
#   SUITE_BUDGET_S  seconds for the whole call (default 480); a step never runs past it
set -uo pipefail

DRY=0
if [ "${1:-}" = "--dry-run" ]; then DRY=1; shift; fi
if [ $# -ne 1 ]; then
  echo "usage: benchmarks/cuda_suite.sh [--dry-run] OUTDIR" >&2
  exit 2
fi
OUT=$1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch}
TORCH_INDEX=${TORCH_INDEX:-https://download.pytorch.org/whl/cu126}
FACE_WEIGHTS=$(sed -n 's/^FACE_WEIGHTS ?= *//p' "$ROOT/Makefile")
mkdir -p "$OUT" || { echo "cannot create $OUT" >&2; exit 2; }
OUT=$(cd "$OUT" && pwd)
START=$(date +%s)
FAILED=0
say() { printf '[cuda_suite %4ss] %s\n' "$(( $(date +%s) - START ))" "$*"; }

# ------------------------------------------------------------------ the environment
if [ "$DRY" = 1 ]; then
  PY=$PYTHON
  say "dry run with $PY: nothing is installed, no GPU is used"
else
  VENV=$OUT/venv
  PIP_SRC=()
  if [ -n "${WHEELHOUSE:-}" ]; then PIP_SRC=(--no-index --find-links "$WHEELHOUSE"); fi
  VENV_OPTS=()
  if [ "${SUITE_REUSE_TORCH:-0}" = 1 ]; then VENV_OPTS=(--system-site-packages); fi
  say "making a fresh venv in $VENV"
  rm -rf "$VENV" && "$PYTHON" -m venv "${VENV_OPTS[@]}" "$VENV" || { echo "venv creation failed" >&2; exit 2; }
  PY=$VENV/bin/python
  "$PY" -m pip install -q --upgrade pip "${PIP_SRC[@]}" >/dev/null 2>&1 || true
  if "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    say "a CUDA torch is already importable: kept"
  else
    say "installing $TORCH_SPEC (CUDA wheel)"
    if [ -n "${WHEELHOUSE:-}" ]; then
      "$PY" -m pip install -q "${PIP_SRC[@]}" "$TORCH_SPEC" || { echo "torch install failed" >&2; exit 2; }
    else
      "$PY" -m pip install -q --index-url "$TORCH_INDEX" "$TORCH_SPEC" || { echo "torch install failed" >&2; exit 2; }
    fi
  fi
  say "installing the repository's dependencies (setup.cfg, [test]) and the default model's weights"
  "$PY" -m pip install -q "${PIP_SRC[@]}" "$ROOT[test]" || { echo "installing the repository failed" >&2; exit 2; }
  "$PY" -m pip install -q "${PIP_SRC[@]}" --no-deps --ignore-requires-python "$FACE_WEIGHTS" \
    || say "the default model's weights ($FACE_WEIGHTS) did not install: steps that need dcgan-faces will fail"
  "$PY" -c "import torch, sys; print('torch', torch.__version__, 'CUDA', torch.version.cuda); sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "torch sees no CUDA GPU: nothing to measure" >&2; exit 2; }
  "$PY" -c "import torch; print(torch.cuda.get_device_name(0))" > "$OUT/device.txt"
fi
cd "$ROOT" || exit 2
export PYTHONPATH=$ROOT

# ------------------------------------------------------------------ steps
BUDGET=${SUITE_BUDGET_S:-480}  # seconds for the whole call, installation included
# step NAME LIMIT_S CHECK... -- RUN... : runs "$PY RUN..." (dry run: "$PY CHECK..."),
# its stdout's last line (one JSON object) becomes OUT/NAME.json
step() {
  local name=$1 limit=$2; shift 2
  local check=() run=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do check+=("$1"); shift; done
  shift
  run=("$@")
  local args=("${run[@]}") log=$OUT/$name.log
  if [ "$DRY" = 1 ]; then
    say "$name: check $PY ${check[*]}"
    if timeout 300 "$PY" "${check[@]}" > "$log" 2>&1; then say "$name: ok"
    else FAILED=1; say "$name: CHECK FAILED, see $log"; tail -3 "$log" >&2; fi
    return
  fi
  local left=$(( BUDGET - ($(date +%s) - START) ))
  if [ "$left" -lt 15 ]; then
    FAILED=1; say "$name: SKIPPED (the ${BUDGET} s budget is spent)"
    printf '{"benchmark": "%s", "failed": "skipped: the suite budget was spent"}\n' "$name" > "$OUT/$name.json"
    return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  say "$name: $PY ${args[*]} (limit ${limit} s)"
  local t0 rc
  t0=$(date +%s)
  timeout "$limit" "$PY" "${args[@]}" > "$log" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && tail -n 1 "$log" | "$PY" -c "import json, sys; json.loads(sys.stdin.read())" 2>/dev/null; then
    tail -n 1 "$log" > "$OUT/$name.json"
    say "$name: done in $(( $(date +%s) - t0 )) s"
  else
    FAILED=1
    local why="exit status $rc"; [ $rc -eq 124 ] && why="over its ${limit} s limit"
    printf '{"benchmark": "%s", "failed": "%s", "log": "%s"}\n' "$name" "$why" "$log" > "$OUT/$name.json"
    say "$name: FAILED ($why), see $log"
  fi
}
CHECK=benchmarks/check_args.py

CUDA_TESTS=$(grep -l "cuda.is_available" tests/test_*.py | tr '\n' ' ')
# shellcheck disable=SC2086  # the test files are words
step cuda_tests 60 -m pytest -q --collect-only -p no:cacheprovider $CUDA_TESTS \
  -- benchmarks/pytest_json.py -q -p no:cacheprovider -rs $CUDA_TESTS
step stylegan2_render 90 $CHECK benchmarks/stylegan2_render.py --sizes 256,1024 --no-cpu \
  -- benchmarks/stylegan2_render.py --sizes 256,1024 --no-cpu
[ "$DRY" = 1 ] && step stylegan2_render_tiny 120 benchmarks/stylegan2_render.py --sizes 64 --frames 1 --no-cuda -- :
step biggan_render 60 $CHECK benchmarks/biggan_render.py --sizes 128,256,512 --no-cpu \
  -- benchmarks/biggan_render.py --sizes 128,256,512 --no-cpu
if [ -f benchmarks/stylegan3_render.py ]; then
  step stylegan3_render 45 $CHECK benchmarks/stylegan3_render.py --sizes 256,1024 --devices cuda \
    -- benchmarks/stylegan3_render.py --sizes 256,1024 --devices cuda
fi
step trained_methods 60 $CHECK benchmarks/trained_methods.py --settings paper --iterations 5 --warmup 2 --no-cpu \
  -- benchmarks/trained_methods.py --settings paper --iterations 5 --warmup 2 --no-cpu
W_PCA=(benchmarks/ganspace.py --model tests/data/stylegan2/stylegan2_small_A.pt --layer latent --samples 1000000 --estimators auto --no-cpu)
step ganspace_w_pca_1m 45 $CHECK "${W_PCA[@]}" -- "${W_PCA[@]}"
if [ -f benchmarks/projection.py ]; then
  step projection 60 $CHECK benchmarks/projection.py --images 2 --steps 100 --sg2-steps 100 \
    -- benchmarks/projection.py --images 2 --steps 100 --sg2-steps 100
fi

say "finished: JSON files in $OUT$( [ "$FAILED" = 1 ] && echo ', some steps FAILED')"
exit $FAILED
