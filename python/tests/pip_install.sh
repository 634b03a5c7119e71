#!/bin/sh
# `pip install .` offline into a virtual environment that sees Debian's packages (docs/python.md),
# from a copy of the package's files (pip builds in the source tree), with the module of the
# build folder BUILD; then the installed package imports, finds its own joulebench program, and
# measures a window. Usage: pip_install.sh SOURCE BUILD
set -eu
source=$1
build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/python" "$work/src/docs"
cp "$source/pyproject.toml" "$source/setup.py" "$work/src/"
cp "$source/docs/python.md" "$work/src/docs/"
cp -r "$source/python/joulebench" "$work/src/python/"
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
JOULEBENCH_BUILD_DIR=$build "$work/venv/bin/pip" install -q --no-build-isolation --no-index \
    --no-cache-dir "$work/src"
cd "$work"
JOULEBENCH_POWERCAP_ROOT=$work/none JOULEBENCH_HWMON_ROOT=$work/none \
JOULEBENCH_NVML_LIBRARY=$work/none.so JOULEBENCH_ROCM_SMI_LIBRARY=$work/none.so \
"$work/venv/bin/python" - <<'PY'
import os, joulebench
assert joulebench.__file__.startswith(os.environ.get("VIRTUAL_ENV", os.getcwd())) or "venv" in joulebench.__file__, joulebench.__file__
exe = joulebench.executable()
assert exe.startswith(os.path.dirname(joulebench.__file__)), exe
with joulebench.window("installed", gpus="none") as w:
    pass
assert w.command == ["installed"] and w.wall_s >= 0, w.json
print("pip install: ok,", joulebench.__file__, exe)
PY
