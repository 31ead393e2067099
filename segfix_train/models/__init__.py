"""SegFix models: HRNet backbones (HRNetV2 W18/W32/W48, the authors' HRNet-2x ``hrnet2x20``), the
boundary/direction heads (ours and the authors'), and import of the authors' checkpoints."""
from .hrnet import MODEL_CONFIGS, HighResolutionNet
from .hrnet2x import HighResolutionNext
from .segfix import (BACKBONES, LoadReport, SegFixModel, boundary_probability, create_backbone,
                     create_model, load_pretrained)

__all__ = ["MODEL_CONFIGS", "BACKBONES", "HighResolutionNet", "HighResolutionNext", "create_backbone",
           "LoadReport", "SegFixModel", "boundary_probability", "create_model", "load_pretrained"]
