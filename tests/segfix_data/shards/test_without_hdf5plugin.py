"""Without the hdf5plugin package (a GPU image that lacks it, where nothing can be installed),
zlib shards are built, read and trained from; the lz4 codec is refused in one line."""
import subprocess
import sys

from tests.support.paths import REPO

#: Run with ``hdf5plugin`` unimportable (``sys.modules[name] = None`` makes ``import`` raise).
SCRIPT = r"""
import sys
sys.modules["hdf5plugin"] = None
import numpy as np
from segfix_data.errors import InputError
from segfix_data.shards import BuildConfig, ShardSet, build
from segfix_data.synthetic import write_example_dataset
from segfix_train.data import AugmentConfig, random_crop

root = sys.argv[1]
write_example_dataset(root + "/cs", splits={"train": 1}, height=32, width=64)
try:
    BuildConfig(codec="lz4")
    print("lz4 accepted")
except InputError as e:
    print("lz4 refused:", e)
build(root + "/cs", root + "/shards", ["train"], BuildConfig(codec="zlib", tile=16))
ds = ShardSet(root + "/shards", "train")
img, bnd, dirn, _, _ = random_crop(ds, 0, np.random.default_rng(0), AugmentConfig(crop=16), 8)
print("crop", img.shape, bnd.shape, int((bnd == 1).sum()) >= 0, "hdf5plugin" in sys.modules and sys.modules["hdf5plugin"])
"""


def test_zlib_shards_need_no_hdf5plugin(tmp_path):
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, cwd=REPO,
                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "NUMBA_NUM_THREADS": "1",
                            "OMP_NUM_THREADS": "1"}, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "lz4 refused: the lz4 tile codec needs the hdf5plugin package" in r.stdout and "--codec zlib" in r.stdout
    assert "crop (16, 16, 3) (16, 16) True None" in r.stdout
