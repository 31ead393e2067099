"""SegFix models: HRNet backbones and the boundary/direction heads."""
from .hrnet import MODEL_CONFIGS, HighResolutionNet, create_backbone
from .segfix import LoadReport, SegFixModel, create_model, load_pretrained

__all__ = ["MODEL_CONFIGS", "HighResolutionNet", "create_backbone", "LoadReport", "SegFixModel",
           "create_model", "load_pretrained"]
