"""segfix_data: SegFix ground-truth targets, shards, refinement and metrics (numpy/numba; no torch)."""
__version__ = "0.1.0"
