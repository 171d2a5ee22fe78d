#!/usr/bin/env python3
"""Prints the largest relative difference between the parameters of two checkpoints and
fails when it exceeds the tolerance: compare_params.py A.h5 B.h5 TOL"""
import sys

import h5py
import numpy as np

a = h5py.File(sys.argv[1], "r")["params_flat"][()]
b = h5py.File(sys.argv[2], "r")["params_flat"][()]
tol = float(sys.argv[3])
if a.shape != b.shape:
    sys.exit(f"shape mismatch {a.shape} vs {b.shape}")
rel = np.abs(a - b) / np.maximum(np.abs(a), 1e-3)
print(f"{sys.argv[1]} vs {sys.argv[2]}: max relative difference {rel.max():.3e} "
      f"(bitwise equal: {np.array_equal(a, b)}, {len(a)} parameters)")
sys.exit(0 if rel.max() <= tol else 1)
