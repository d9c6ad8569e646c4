"""Shared pytest set-up.

The arrays in these tests are small, where OpenBLAS's threads cost more than they
save (on a loaded 2-core machine a 150-step training run went from 1.5 s to 15 s).
The Makefile exports the same variables; this covers a plain ``pytest`` run.  They
must be set before NumPy is first imported, which conftest.py precedes.
"""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
