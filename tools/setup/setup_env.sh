#!/usr/bin/env bash
# Bring a machine (Python 3.11, nothing else) to a working bocb_mm environment. Idempotent.
#
#   bash tools/setup/setup_env.sh            # env in $BOCB_VENV (default ~/.cache/bocb_mm/venv)
#   PYTHON=/path/to/python bash tools/setup/setup_env.sh   # install into your own env instead,
#                                            # keeping the torch it has (e.g. your CUDA build)
#
# What it installs, and the breakages of this stack it works around (measured on torch 2.14.1,
# numpy 2.4, Python 3.11):
#   torch 2.14.1 + torchvision 0.29.1 (only when the env has no torch);
#   mmcv 2.1.0 with compiled ops, built from the sdist by tools/setup/build_mmcv.py (C++ standard
#     raised to what torch's headers need, no build isolation) and cached as a wheel under
#     $BOCB_CACHE (default ~/.cache/bocb_mm/wheels) so later runs skip the ~25 min build; when
#     torch sees a GPU (or FORCE_CUDA=1) the CUDA ops are built too, for TORCH_CUDA_ARCH_LIST
#     (default: the visible GPUs' architectures), e.g.
#       FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=9.0 make setup PYTHON=/path/to/cuda/env/bin/python
#     (the resolved flags are printed; `build_mmcv.py --print-flags` shows them; docs/throughput.md);
#   mmengine 0.10.7, mmpretrain 1.2.0, mmdet 3.3.0 (refuses mmcv >= 2.2, hence mmcv 2.1.0);
#   mmpose 1.3.2 without its `chumpy` dependency (does not build on Python 3.11, SMPL-only);
#   xtcocotools built from source against the installed numpy (PyPI's wheel is numpy-1 only);
#   setuptools >= 77.0.3 (torch 2.14 needs it) and < 82 (82 removed pkg_resources, which mmcv's
#     setup.py and mmengine's `mmdet::` config bases import), held by requirements/constraints.txt
#     on every pip call: torch and setuptools are resolved together, so no later step moves it;
#   bocb_mm itself in editable mode with its test requirements.
# Runtime fixes of the installed stack live in bocb_mm/compat.py, not here.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${BOCB_CACHE:-$HOME/.cache/bocb_mm}
VENV=${BOCB_VENV:-$CACHE/venv}
TORCH_SPEC=${BOCB_TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
T0=$(date +%s)

step() { printf '[setup %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }

if [ -n "${PYTHON:-}" ]; then
  PY=$PYTHON
  step "installing into the given environment: $PY"
else
  PY=$VENV/bin/python
  if [ ! -x "$PY" ]; then
    step "creating virtual environment $VENV"
    python3 -m venv "$VENV"
  fi
fi
# Every pip call carries the constraints, so no step can move setuptools out of its range.
PIP=("$PY" -m pip --disable-pip-version-check)
PIPI=("${PIP[@]}" install -q -c "$ROOT/requirements/constraints.txt")
need_pkg_resources() {
  "$PY" -c 'import pkg_resources' 2>/dev/null && return 0
  echo "error: 'import pkg_resources' fails in $PY (setuptools $("$PY" -c \
'import setuptools; print(setuptools.__version__)' 2>/dev/null || echo missing))." >&2
  echo "mmcv's setup.py and mmengine's config bases need it; setuptools 82+ removed it." >&2
  echo "Fix: $PY -m pip install 'setuptools>=77.0.3,<82'   then re-run this set-up." >&2
  exit 1
}

# Fast path: nothing changed since the last complete set-up, and the stack imports.
STAMP_KEY=$(cat "$ROOT"/requirements/*.txt "$ROOT/tools/setup/setup_env.sh" \
  "$ROOT/tools/setup/build_mmcv.py" "$ROOT/setup.py" | sha1sum | cut -c1-16)
STAMP=$("$PY" -c 'import sys; print(sys.prefix)')/.bocb_mm_setup
check_stack() {
  "$PY" - <<'EOF' 2>/dev/null
import mmcv, mmcv.ops, mmengine, mmpretrain.models, mmdet.models, mmpose.models, xtcocotools.coco
import bocb_mm
assert mmcv.__version__ == '2.1.0', mmcv.__version__
EOF
}
if [ "$(cat "$STAMP" 2>/dev/null)" = "$STAMP_KEY:$ROOT" ] && check_stack; then
  step "environment up to date ($PY)"
  exit 0
fi

BUILD_TOOLS=(setuptools wheel ninja psutil cython)
if "$PY" -c 'import torch, torchvision' 2>/dev/null; then
  step "keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)'); build tools"
  "${PIPI[@]}" "${BUILD_TOOLS[@]}"
else
  # one resolver call: torch's own setuptools requirement and ours are solved together
  step "installing $TORCH_SPEC with the build tools (a few minutes)"
  # shellcheck disable=SC2086
  "${PIPI[@]}" $TORCH_SPEC "${BUILD_TOOLS[@]}"
fi
need_pkg_resources

if "$PY" -c 'import mmcv, mmcv._ext; assert mmcv.__version__ == "2.1.0"' 2>/dev/null; then
  step "mmcv 2.1.0 with compiled ops already installed"
else
  step "mmcv 2.1.0 with compiled ops (cached wheel, or a ~25 min build on 2 cores)"
  WHEEL=$(BOCB_CACHE=$CACHE "$PY" "$ROOT/tools/setup/build_mmcv.py" --version 2.1.0 | tail -n 1)
  "${PIP[@]}" uninstall -q -y mmcv-lite mmcv 2>/dev/null || true
  "${PIPI[@]}" --no-deps "$WHEEL"
  "${PIPI[@]}" addict packaging Pillow pyyaml yapf opencv-python mmengine==0.10.7
fi

step "OpenMMLab packages: mmengine, mmpretrain, mmdet, mmpose (without chumpy)"
"${PIPI[@]}" mmengine==0.10.7 mmpretrain==1.2.0 mmdet==3.3.0 \
  -r "$ROOT/requirements/mmdeps.txt"
"${PIPI[@]}" --no-deps mmpose==1.3.2

if "$PY" -c 'import xtcocotools.coco' 2>/dev/null; then
  step "xtcocotools imports against this numpy"
else
  step "xtcocotools from source against the installed numpy"
  "${PIP[@]}" uninstall -q -y xtcocotools 2>/dev/null || true
  "${PIPI[@]}" --no-binary xtcocotools --no-build-isolation --no-cache-dir xtcocotools
fi

# One venv, one clone: re-pointing an editable install that another clone made is said loudly.
OWNER=$("$PY" -c 'import importlib.util as u, pathlib as p; s = u.find_spec("bocb_mm")
print(p.Path(s.origin).resolve().parents[1] if s and s.origin else "")' 2>/dev/null || true)
if [ -n "$OWNER" ] && [ "$OWNER" != "$ROOT" ] && [ -z "${PYTHON:-}" ]; then
  echo "warning: $VENV runs bocb_mm from another clone ($OWNER); it now runs $ROOT instead." >&2
  echo "  For one environment per clone: BOCB_VENV=$ROOT/.venv make setup (or export it)." >&2
fi

step "bocb_mm (editable) and test requirements"
"${PIPI[@]}" -r "$ROOT/requirements/runtime.txt" \
  -r "$ROOT/requirements/tests.txt"
# (setuptools' warnings about the data folders go to a log, not the terminal)
"${PIPI[@]}" --no-deps --no-build-isolation -e "$ROOT" > "$CACHE/editable_install.log" 2>&1 \
  || { cat "$CACHE/editable_install.log"; exit 1; }
if "$PY" -c 'import transformers' 2>/dev/null; then
  echo "warning: transformers is installed; mmpretrain 1.2's BLIP code breaks with recent" \
       "releases (import mmpretrain.models fails). Remove it: $PY -m pip uninstall transformers" >&2
fi

step "checking the stack imports"
check_stack || { "$PY" -c 'import mmcv.ops, mmpretrain.models, mmdet.models, mmpose.models, bocb_mm'; exit 1; }
echo "$STAMP_KEY:$ROOT" > "$STAMP"
step "done: $PY"
