"""Generated Cityscapes instance results (``*_pred.txt`` + mask PNGs) from a ground-truth tree."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_instance_results(gt_root, out_dir, *, shift: int = 0, split: str = "val", score: float = 0.9,
                           extra_false_positive: bool = False) -> Path:
    """One mask per ground-truth thing instance (``class*1000+k``), moved right by ``shift`` pixels,
    listed in ``<frame>_pred.txt`` as the Cityscapes benchmark wants. Returns ``out_dir``."""
    out_dir = Path(out_dir)
    for g in sorted((Path(gt_root) / "gtFine" / split).rglob("*_gtFine_instanceIds.png")):
        ids = np.array(Image.open(g)).astype(np.int64)
        base = g.name[: -len("_gtFine_instanceIds.png")]
        (out_dir / "masks").mkdir(parents=True, exist_ok=True)
        lines = []
        for inst in np.unique(ids[ids >= 1000]):
            m = ids == inst
            if shift:
                m = np.roll(m, shift, axis=1)
                m[:, :shift] = False
            name = f"masks/{base}_{inst}.png"
            Image.fromarray(m.astype(np.uint8) * 255).save(out_dir / name)
            lines.append(f"{name} {inst // 1000} {score}")
        if extra_false_positive:
            m = np.zeros(ids.shape, np.uint8)
            m[:20, :20] = 255
            Image.fromarray(m).save(out_dir / f"masks/{base}_fp.png")
            lines.append(f"masks/{base}_fp.png 26 0.95")
        (out_dir / f"{base}_pred.txt").write_text("\n".join(lines) + "\n")
    return out_dir
