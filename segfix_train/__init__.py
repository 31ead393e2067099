"""segfix_train: the SegFix model (HRNet + boundary and direction heads), data streaming, training
loop and inference. Imports torch; imports ``segfix_data``, never the reverse.

* :class:`SegFix` (:mod:`.api`): a trained model in memory: ``SegFix.from_checkpoint(run_dir)``,
  then ``.offsets(image)``, ``.boundary(image)``, ``.refine(image, labels)``.
"""


def __getattr__(name):  # lazy, so `import segfix_train.config` stays light
    if name == "SegFix":
        from .api import SegFix

        return SegFix
    raise AttributeError(f"module 'segfix_train' has no attribute {name!r}")


__all__ = ["SegFix"]
