"""The design card's rule: segfix_data never imports torch (not even indirectly)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_importing_every_segfix_data_module_loads_no_torch():
    code = (
        "import importlib, pkgutil, sys\n"
        "import segfix_data\n"
        "for m in pkgutil.iter_modules(segfix_data.__path__):\n"
        "    importlib.import_module('segfix_data.' + m.name)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(len(list(pkgutil.iter_modules(segfix_data.__path__))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 15  # every module was imported
