#!/usr/bin/env python3
"""Runs an ONNX model in onnxruntime for onnx_export_test.cpp: float32 input from a raw file of
the given shape, the "probabilities" output written as raw float32. Exit 77 without onnxruntime.

  run_onnx.py MODEL.onnx INPUT.bin N,C,H,W OUTPUT.bin
"""
import sys

try:
    import numpy as np
    import onnxruntime as ort
except ImportError:
    print("onnxruntime is not installed: pip install onnxruntime")
    sys.exit(77)

model, input_path, shape, output_path = sys.argv[1:5]
x = np.fromfile(input_path, dtype=np.float32).reshape([int(d) for d in shape.split(",")])
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
probabilities = session.run(["probabilities"], {"input": x})[0]
probabilities.astype(np.float32).tofile(output_path)
print(f"onnxruntime {ort.__version__}: {model} on {x.shape} -> {probabilities.shape}")
