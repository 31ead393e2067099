"""setup.cfg asks for a torch range (users bring their own CUDA build) that holds the GPU image's
torch 2.11 and the torch installed here."""
import configparser

import torch
from packaging.requirements import Requirement

from tests.support.paths import REPO


def test_torch_requirement_is_a_range_holding_the_gpu_image_and_this_machine():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    reqs = [Requirement(ln.strip()) for ln in cfg["options"]["install_requires"].splitlines()
            if ln.strip() and not ln.strip().startswith("#")]
    (torch_req,) = [r for r in reqs if r.name == "torch"]
    assert not any(s.operator in ("==", "===") for s in torch_req.specifier)
    installed = torch.__version__.split("+")[0]
    assert all(v in torch_req.specifier for v in ("2.11.0", "2.13.0", installed))
    assert "2.4.1" not in torch_req.specifier  # older than torch.serialization.safe_globals
