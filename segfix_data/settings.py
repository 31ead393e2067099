"""Comparing the settings of two runs (a build's params, a prediction's record) one setting at a time."""
from __future__ import annotations


def flatten_settings(d: dict, prefix: str = "") -> dict:
    """``{"targets": {"gamma": 5}}`` -> ``{"targets.gamma": 5}``: nested settings under dotted names,
    so that a difference between two runs names the one setting (an empty dict stays a value)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(flatten_settings(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
