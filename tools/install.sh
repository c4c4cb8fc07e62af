#!/usr/bin/env bash
# Install mmspatial and its pinned OpenMMLab stack into the active virtual environment, or into
# <project>/.venv when none is active. Idempotent: a second run on an installed machine only checks.
#
# Why it looks like this (details and timings: docs/install.md):
#   * torch/torchvision are pinned to 2.14.1/0.29.1 (the releases pip takes from this machine's disk).
#   * mmcv 2.1.0 (the newest that mmdet 3.3 / mmseg 1.2 accept) has no wheel for this torch, so it is
#     built from its PyPI sdist with compiled ops. Its setup.py hard-codes -std=c++17 but torch 2.14's
#     headers need C++20: we compile through a tiny g++ wrapper that swaps the flag. The build needs
#     torch visible (--no-build-isolation) and setuptools<81 (setup.py imports pkg_resources).
#   * pip caches the wheel it builds, and we also keep a copy in $MMSPATIAL_WHEELHOUSE, so only the
#     very first install on a machine pays the ~15 min compile.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELHOUSE="${MMSPATIAL_WHEELHOUSE:-$HOME/.cache/mmspatial/wheels/torch-2.14.1}"
TORCH_PINS=(torch==2.14.1 torchvision==0.29.1)
MMCV_VERSION=2.1.0
START=$(date +%s)

log() { echo "[mmspatial install $(($(date +%s) - START))s] $*"; }

if [[ "$(uname -m)" != "x86_64" ]]; then
    log "warning: only x86_64 is verified; on aarch64 use torch==2.9.1 torchvision==0.24.1 (docs/install.md)"
fi

# ---- 1. pick the environment ------------------------------------------------------------------
if [[ -n "${VIRTUAL_ENV:-}" ]]; then
    VENV="$VIRTUAL_ENV"
    log "installing into the active virtual environment $VENV"
else
    VENV="$ROOT/.venv"
    if [[ ! -x "$VENV/bin/python" ]]; then
        PYTHON_BIN="$(command -v python3.11 || command -v python3)"
        "$PYTHON_BIN" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' || {
            echo "mmspatial needs Python 3.11 (found $("$PYTHON_BIN" --version))" >&2; exit 1; }
        log "creating $VENV with $PYTHON_BIN"
        "$PYTHON_BIN" -m venv "$VENV"
    fi
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

# ---- 2. fast path: everything already installed for this checkout ----------------------------------
STAMP="$VENV/.mmspatial-install-stamp"
STAMP_KEY="$(cat "$ROOT/tools/install.sh" "$ROOT"/requirements/*.txt "$ROOT/setup.py" | sha256sum | cut -c1-16):$ROOT"
check_installed() {
    "$PY" - "$ROOT" <<'PYCHECK' 2>/dev/null
import os, sys
import torch, mmcv, mmcv._ext, mmdet, mmseg, mmpretrain, mmengine  # noqa: F401
import mmspatial
assert mmcv.__version__ == '2.1.0', mmcv.__version__
assert torch.__version__.split('+')[0] == '2.14.1', torch.__version__
root = os.path.realpath(sys.argv[1])
assert os.path.realpath(mmspatial.__file__).startswith(root + os.sep), mmspatial.__file__
PYCHECK
}
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_KEY" ]] && check_installed; then
    log "already installed in $VENV (nothing to do)"
    echo "$PY"
    exit 0
fi

# ---- 3. pinned dependencies ----------------------------------------------------------------
log "installing torch/torchvision"
"${PIP[@]}" install -q "${TORCH_PINS[@]}"
log "installing build tools"
"${PIP[@]}" install -q -r "$ROOT/requirements/build.txt"
log "installing the OpenMMLab stack and runtime/test requirements"
"${PIP[@]}" install -q -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" "${TORCH_PINS[@]}"

# ---- 4. mmcv with compiled ops ------------------------------------------------------------------
if "$PY" -c "import mmcv, mmcv._ext; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null; then
    log "mmcv $MMCV_VERSION with ops already installed"
else
    WHEEL="$(ls "$WHEELHOUSE"/mmcv-$MMCV_VERSION-cp311-*.whl 2>/dev/null | head -n1 || true)"
    if [[ -z "$WHEEL" ]]; then
        log "building mmcv $MMCV_VERSION with CPU ops from source (about 15 min on 2 cores, once per machine)"
        BUILD_DIR="$(mktemp -d)"
        trap 'rm -rf "$BUILD_DIR"' EXIT
        # torch 2.14 headers refuse C++17; mmcv's setup.py hard-codes it. torch's BuildExtension honours $CXX.
        cat > "$BUILD_DIR/g++-cxx20" <<'WRAP'
#!/usr/bin/env bash
args=(); for a in "$@"; do [[ "$a" == "-std=c++17" ]] && a="-std=c++20"; args+=("$a"); done
exec g++ "${args[@]}"
WRAP
        chmod +x "$BUILD_DIR/g++-cxx20"
        # pip wheel builds (or takes from pip's own wheel cache) and leaves a copy in the wheelhouse.
        mkdir -p "$WHEELHOUSE"
        CXX="$BUILD_DIR/g++-cxx20" MAX_JOBS="${MAX_JOBS:-$(nproc)}" MMCV_WITH_OPS=1 \
            "${PIP[@]}" wheel --no-deps --no-build-isolation -w "$WHEELHOUSE" "mmcv==$MMCV_VERSION"
        WHEEL="$(ls "$WHEELHOUSE"/mmcv-$MMCV_VERSION-cp311-*.whl | head -n1)"
    fi
    log "installing $WHEEL"
    "${PIP[@]}" install -q --no-deps --force-reinstall "$WHEEL"
    "$PY" -c "import mmcv._ext" || { echo "mmcv was installed without compiled ops ($WHEEL); delete it and rerun" >&2; exit 1; }
fi

# ---- 5. mmspatial itself ------------------------------------------------------------------
log "installing mmspatial (editable) from $ROOT"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"

check_installed || { echo "install finished but the import check failed; run: $PY -c 'import mmcv._ext, mmdet, mmseg, mmpretrain, mmspatial'" >&2; exit 1; }
echo "$STAMP_KEY" > "$STAMP"
log "done: $PY"
echo "$PY"
