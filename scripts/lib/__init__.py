"""Helpers shared by the project's Python scripts (generators, checks, the end-to-end suite
and the benchmarks): the repository's paths, the fleet as the generated targets describe it,
HTTP and PromQL over loopback, and the no-Docker stack as a context manager.

Run everything through `scripts/py`, which puts `scripts/` on the import path and uses the
project's one virtualenv.
"""
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
