"""segfix_data: SegFix ground-truth targets, shards, refinement and metrics.

numpy / numba / h5py only: this package never imports torch.
"""
__version__ = "0.1.0"

from .targets import PRESETS, Targets, instance_targets, semantic_targets  # noqa: E402

__all__ = ["PRESETS", "Targets", "instance_targets", "semantic_targets", "__version__"]
