#!/usr/bin/env bash
# Puts onnxruntime (PyPI) into .venv-onnx for the ONNX export test, which runs keel's exported
# models in it as an independent check; keel itself never needs it. Idempotent: does nothing when
# the venv already imports onnxruntime. Exits 0 with a note when it cannot be had (no network, no
# python3-venv), and the test then skips with its reason.
set -uo pipefail
cd "$(dirname "$0")/.."

venv=.venv-onnx
if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import onnxruntime, numpy' 2>/dev/null; then
    exit 0
fi
if ! python3 -m venv "$venv" 2>/dev/null; then
    echo "install-onnxruntime: python3 -m venv failed (apt-get install python3-venv); the ONNX runtime check will skip"
    exit 0
fi
if ! "$venv/bin/pip" install --quiet --disable-pip-version-check numpy onnxruntime; then
    echo "install-onnxruntime: pip could not install onnxruntime; the ONNX runtime check will skip"
    exit 0
fi
"$venv/bin/python" -c 'import onnxruntime; print("install-onnxruntime: onnxruntime", onnxruntime.__version__, "in '"$venv"'")'
