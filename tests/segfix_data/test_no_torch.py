"""The design card's rule: segfix_data never imports torch (not even indirectly)."""
import subprocess
import sys

from tests.support.paths import REPO as ROOT


def test_importing_every_segfix_data_module_loads_no_torch():
    code = (
        "import importlib, pkgutil, sys\n"
        "import segfix_data\n"
        "names = [m.name for m in pkgutil.walk_packages(segfix_data.__path__, 'segfix_data.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(len(names))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 40  # every module of every subpackage was imported
