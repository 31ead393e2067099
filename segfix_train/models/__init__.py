"""SegFix models: HRNet backbones (HRNetV2 W18/W32/W48, the authors' HRNet-2x ``hrnet2x20``), the
boundary/direction heads (ours and the authors'), import of the authors' checkpoints, and
``create_model`` with pretrained weights."""
from .factory import LoadReport, PretrainedError, create_model, load_pretrained
from .hrnet import MODEL_CONFIGS, HighResolutionNet
from .hrnet2x import HighResolutionNext
from .segfix import BACKBONES, SegFixModel, boundary_probability, build_model, create_backbone

__all__ = ["MODEL_CONFIGS", "BACKBONES", "HighResolutionNet", "HighResolutionNext", "create_backbone",
           "LoadReport", "PretrainedError", "SegFixModel", "boundary_probability", "build_model",
           "create_model", "load_pretrained"]
