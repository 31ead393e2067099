"""Cityscapes instance results on disk: the per-frame ``.txt`` list of masks.

Each non-empty line of a list is ``relative/mask.png classId score``: the mask PNG's path relative
to the list's folder, the Cityscapes labelId (int) and the confidence (float). Refinement
(:mod:`segfix_data.refine.directory`) and instance evaluation (:mod:`segfix_data.metrics.instances`)
both read the format, so it lives here with the other on-disk formats.
"""
from __future__ import annotations

import locale
from pathlib import Path
from segfix_data.errors import InputError


def read_instance_list(path: Path, data: bytes | None = None) -> list[tuple[str, int, float, str]]:
    """Lines of a Cityscapes instance result: ``(mask relative path, class id, score, raw line)``.

    ``data``: the file's bytes, already read (``path`` then only names it in messages).

    Raises ValueError naming ``path:line`` for a line that is not ``relative/mask.png classId score``.
    """
    path = Path(path)
    try:
        text = path.read_text() if data is None else data.decode(locale.getpreferredencoding(False))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a text file ({exc}); expected lines "
                         "'relative/mask.png classId score'") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 3:
                raise InputError
            out.append((parts[0], int(parts[1]), float(parts[2]), line))
        except ValueError:
            raise InputError(f"{path}:{n}: expected 'relative/mask.png classId score', got {line!r}") from None
    return out
