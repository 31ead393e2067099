"""The README's recipe table: every value in the authors' column names the file it is from (the
legend above the table maps each short name to its path in openseg.pytorch), and the recipe
column agrees with ``segfix_train.config.RECIPES``."""
import re

from segfix_train.config import RECIPES
from tests.support.paths import REPO

FILES = ("cs.sh", "unified.sh", "cs.json", "ade.json", "unified.json", "mixed loader", "loss", "main.py")


def _table():
    text = (REPO / "README.md").read_text()
    start = text.index("| setting | paper (Sec. 4.1, Appendix) | authors' files | `--recipe` |")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return text[:start], {r[0]: r for r in rows}


def test_every_authors_value_names_its_file():
    legend, rows = _table()
    for short in ("cs.sh", "unified.sh", "cs.json", "mixed loader", "loss"):
        assert f"`{short}` is" in legend or f"`{short}`" in legend
    assert "scripts/segfix/run_hx_20_d_2_cityscapes_ade20k.sh" in legend
    assert "lib/datasets/loader/multi_dataset_loader.py" in legend and "lib/loss/loss_helper.py" in legend
    for name, (_, _, authors, _) in rows.items():
        if authors != "-":
            assert any(f in authors for f in FILES), f"{name}: {authors}"
    assert {"direction pixels", "BN", "input", "iterations", "schedule"} <= set(rows)
    assert "inplace_abn" in rows["BN"][2] and "--is_warm" in rows["schedule"][2]
    assert all(n in rows["iterations"][2] for n in ("80000", "100000", "150000"))
    assert "LR=0.04" in rows["lr"][2] and "BGR" in rows["input"][2]


def test_recipe_column_agrees_with_the_recipes():
    _, rows = _table()
    r = RECIPES["cityscapes"]
    assert f"`crop {r['crop']}`" in rows["crop"][3] and f"`batch {r['batch']}`" in rows["batch"][3]
    assert f"`iters {r['iters']}`" in rows["iterations"][3]
    assert re.search(r"0\.02 \(ade20k, unified", rows["lr"][3]) and RECIPES["unified"]["base_lr"] == 0.02
    assert "`resize_short {ade20k = 512}` (unified" in rows["ADE20K frames"][3]
    assert RECIPES["unified"]["resize_short"] == {"ade20k": 512} and RECIPES["ade20k"]["resize_short"] == 512
