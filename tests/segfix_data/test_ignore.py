"""The label ignore value has one name and one definition (``segfix_data/ignore.py``); "no
direction" (``DIRECTION_IGNORE``) is another idea, defined beside the direction bins."""
from __future__ import annotations

import ast

from tests.support.paths import REPO

#: the only module-level names bound to 255 whose name says "ignore"
DEFINITIONS = {("segfix_data/ignore.py", "IGNORE_INDEX"), ("segfix_data/targets/direction.py", "DIRECTION_IGNORE")}


def ignore_constants():
    """``(file, name)`` of every module-level ``NAME = 255`` whose name contains IGNORE."""
    for pkg in ("segfix_data", "segfix_train", "cli"):
        for path in sorted((REPO / pkg).rglob("*.py")):
            for node in ast.parse(path.read_text(), str(path)).body:
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value == 255:
                    for t in node.targets:
                        if isinstance(t, ast.Name) and "IGNORE" in t.id.upper():
                            yield str(path.relative_to(REPO)), t.id


def test_the_ignore_values_are_defined_once_each():
    assert set(ignore_constants()) == DEFINITIONS

