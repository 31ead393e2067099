"""The ``>>>`` examples in the docstrings of every ``segfix_data`` module run, and give what they show."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import segfix_data


def _modules_with_examples() -> list[str]:
    names = ["segfix_data"] + [m.name for m in pkgutil.walk_packages(segfix_data.__path__, "segfix_data.")]
    finder = doctest.DocTestFinder()
    return [n for n in names if any(t.examples for t in finder.find(importlib.import_module(n)))]


MODULES = _modules_with_examples()


def test_the_examples_are_found():
    # the finder itself can fail: these modules show examples in their docstrings
    assert {"segfix_data.targets.core", "segfix_data.metrics.score", "segfix_data.synthetic.street"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False,
                             report=True)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (output above)"
