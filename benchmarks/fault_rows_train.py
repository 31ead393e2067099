"""The training and prediction rows of ``benchmarks/fault_injection.py``: crafted checkpoints,
offsets directories of another run, user mistakes in settings, kills inside ``--keep-best``'s save
and inside an export. One function per fault, registered in :data:`TRAIN_ROWS`; each returns
``(cases, handled, note)`` (``note``: figures shown under the row, e.g. the peak memory ratio).

Peak memory: each ``segfix predict`` runs as a child of a small wrapper process that prints
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the peak resident set of its one child, KiB on
Linux); a crafted checkpoint's run is compared with a normal predict of a small real checkpoint in
the same script, and must stay within :data:`MEMORY_RATIO_LIMIT` of it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: A crafted checkpoint's predict may take at most this multiple of a normal predict's peak memory.
MEMORY_RATIO_LIMIT = 2.0
_WRAPPER = ("import resource, subprocess, sys\n"
            "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "sys.stderr.write(r.stdout + r.stderr)\n"
            "sys.exit(r.returncode)\n")

TRAIN_ROWS: dict = {}


def train_row(name: str):
    """Register a row: ``fn(tmp) -> (cases, handled, note[, figures])``."""
    def deco(fn):
        TRAIN_ROWS[name] = fn
        return fn
    return deco


def _env(**extra) -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", **extra)


def peak_run(*args) -> tuple[int, str, int]:
    """``python -m cli.main *args`` in a wrapper process: ``(exit status, its output, peak RSS KiB)``."""
    r = subprocess.run([sys.executable, "-c", _WRAPPER, sys.executable, "-m", "cli.main", *map(str, args)],
                       cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    return r.returncode, r.stderr, int(r.stdout.strip() or 0)


def _one_line(code: int, output: str, *says: str) -> bool:
    """Exit 2, no traceback, exactly one non-empty line ``error: ...`` holding every ``says``
    (lines before it that a command prints on stderr, such as ``checkpoint PATH``, are allowed)."""
    errors = [ln for ln in output.splitlines() if ln.startswith("error:")]
    return (code == 2 and "Traceback" not in output and "internal error" not in output and len(errors) == 1
            and all(s in errors[0] for s in says))


def _invoke(*args, env: dict | None = None):
    from click.testing import CliRunner

    from cli.main import main

    r = CliRunner().invoke(main, [str(a) for a in args], env=env)
    return r.exit_code, r.output


def _scene_images(d: Path, n: int = 2) -> Path:
    from PIL import Image

    from tests.support.fakes import scene

    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(scene(i, 64, 128)[0]).save(d / f"f{i}.png")
    return d


W18 = dict(name="hrnet_w18", num_directions=8, head="segfix", head_act="relu", align_corners=False)
#: The crafted specs: (what, model_spec); each saved as a 2-3 KB checkpoint with no weights.
CRAFTED_SPECS = (("channels [18, 36, 72, 1152]", {**W18, "channels": [18, 36, 72, 1152]}),
                 ("modules [1, 4, 300]", {**W18, "modules": [1, 4, 300]}),
                 ("hrnet_w48, a known spec, without its weights", {**W18, "name": "hrnet_w48"}))


def _crafted_files(tmp: Path) -> list[tuple[str, Path]]:
    import torch

    from segfix_train import checkpoint as ckpt

    out = []
    for i, (what, spec) in enumerate(CRAFTED_SPECS):
        path = tmp / f"crafted{i}.pt"
        ckpt.save_checkpoint(str(path), {"format": ckpt.BEST_FORMAT, "model": {}, "model_spec": spec,
                                         "num_directions": 8, "config": {}, "step": 1, "val": {}})
        out.append((what, path))
    # the authors' format names its network by its keys: four tensors ask for a full hrnet_w48
    path = tmp / "crafted_authors.pth"
    torch.save({"state_dict": {"backbone.transition1.0.0.weight": torch.zeros(48, 256, 3, 3),
                               "mask_head.1.weight": torch.ones(256), "mask_head.0.weight": torch.zeros(256, 720, 1, 1),
                               "dir_head.2.weight": torch.zeros(8, 256, 1, 1)}}, path)
    out.append(("authors' format, 4 tensors naming hrnet_w48", path))
    return out


@train_row("2 crafted model spec (2-3 KB checkpoints asking for big networks): refused in one line, "
           f"peak memory within {MEMORY_RATIO_LIMIT:g}x of a normal predict")
def row_crafted_spec(tmp: Path):
    from tests.support.tiny_run import write_tiny_run

    imgs = _scene_images(tmp / "imgs")
    run = write_tiny_run(tmp / "run")
    code, output, normal = peak_run("predict", "--checkpoint", run, "--images", imgs, "--out", tmp / "off",
                                    "--device", "cpu")
    if code != 0 or normal <= 0:
        return 1, 0, f"the normal predict failed ({code}): {output[-300:]}"
    cases, handled, notes, ratios = 0, 0, [f"normal predict {normal / 1024:.0f} MiB"], []
    for what, path in _crafted_files(tmp):
        code, output, peak = peak_run("predict", "--checkpoint", path, "--images", imgs, "--out",
                                      tmp / f"off_{path.stem}", "--device", "cpu")
        ratio = peak / normal
        ratios.append(ratio)
        cases += 1
        ok = _one_line(code, output, str(path)) and ratio <= MEMORY_RATIO_LIMIT
        handled += ok
        notes.append(f"{what}: {peak / 1024:.0f} MiB ({ratio:.2f}x){'' if ok else ' NOT HANDLED: ' + output[-200:]}")
    return cases, handled, "; ".join(notes), {"normal_peak_kib": normal, "max_ratio": max(ratios)}


@train_row("2 all-NaN weights: predict refused naming the file (exit 2); --resume takes the finite checkpoint")
def row_nan_weights(tmp: Path):
    from segfix_train import checkpoint as ckpt
    from tests.support.tiny_run import write_tiny_run

    run = write_tiny_run(tmp / "run")
    state = ckpt.load_checkpoint(str(run / "checkpoints" / "ckpt_00000001.pt"))
    state["model"] = {k: v.float().fill_(float("nan")) if v.is_floating_point() else v for k, v in state["model"].items()}
    path = ckpt.checkpoint_path(str(run), 2)
    ckpt.save_checkpoint(path, state)
    code, output = _invoke("predict", "--checkpoint", path, "--images", _scene_images(tmp / "imgs"),
                           "--out", tmp / "off", "--device", "cpu")
    cases = [_one_line(code, output, path, "NaN") and not (tmp / "off").exists()]
    found, _, skipped = ckpt.load_latest(str(run))
    cases.append(found is not None and found.endswith("ckpt_00000001.pt") and [p for p, _ in skipped] == [path])
    return len(cases), sum(cases), ""


@train_row("3 predict into an OUT of another run (other checkpoint, other --threshold, offsets without a "
           "record): refused naming the setting, files untouched; --overwrite replaces the whole run")
def row_predict_record(tmp: Path):
    from tests.support.tiny_run import write_tiny_run

    a, b = write_tiny_run(tmp / "a", seed=0), write_tiny_run(tmp / "b", seed=1)
    imgs, out = _scene_images(tmp / "imgs"), tmp / "off"

    def predict(ck, *extra, to=out):
        return _invoke("predict", "--checkpoint", ck, "--images", imgs, "--out", to, "--device", "cpu", *extra)

    def state(d):
        return {p.name: p.read_bytes() for p in d.iterdir()}
    cases = [predict(a)[0] == 0]
    before = state(out)
    cases.append(_one_line(*predict(b), "checkpoint: sha256 ") and state(out) == before)
    cases.append(_one_line(*predict(a, "--threshold", "0.3"), "threshold: 0.5 -> 0.3") and state(out) == before)
    foreign = tmp / "foreign"
    foreign.mkdir()
    (foreign / "f0.npz").write_bytes(b"another tool's")
    cases.append(_one_line(*predict(a, to=foreign), "no record of the settings"))
    code, output = predict(b, "--overwrite")
    rec = json.loads((out / "predict.json").read_text())
    from segfix_train.checkpoint import file_sha256

    cases.append(code == 0 and "removed 2 offsets files" in output
                 and rec["checkpoint"] == file_sha256(str(b / "checkpoints" / "ckpt_00000001.pt")))
    return len(cases), sum(cases), ""


@train_row("5 train --lr -1, --workers -1, config crop = \"big\"; predict --device cuda without CUDA: one line, exit 2")
def row_mistakes_traceback(tmp: Path):
    import torch

    train = ["train", "--shards", "shards", "--out", tmp / "run", "--val-split", "none"]
    (tmp / "c.toml").write_text('crop = "big"\n')
    cases = [_one_line(*_invoke(*train, "--lr", "-1"), "lr"),
             _one_line(*_invoke(*train, "--workers", "-1"), "num_workers"),
             _one_line(*_invoke(*train, "--config", tmp / "c.toml"), "crop", str(tmp / "c.toml"))]
    real = torch.cuda.is_available
    torch.cuda.is_available = lambda: False  # as on a CPU build, whatever this machine has
    try:
        (tmp / "ck.pt").write_bytes(b"x")
        cases.append(_one_line(*_invoke("predict", "--checkpoint", tmp / "ck.pt", "--images",
                                        _scene_images(tmp / "imgs"), "--out", tmp / "off", "--device", "cuda"),
                               "--device cuda"))
    finally:
        torch.cuda.is_available = real
    return len(cases), sum(cases), ""


@train_row("9 predict --threshold 2 / nan, --batch 0, --stride 0, --stride without --tile; train --lr nan: "
           "refused up front; an empty-boundary prediction is warned")
def row_nonsense(tmp: Path):
    from tests.support.tiny_run import write_tiny_run

    imgs, junk = _scene_images(tmp / "imgs"), tmp / "junk.pt"
    junk.write_bytes(b"never read: the options are refused first")
    cases = []
    for extra, says in ((["--threshold", "2"], "--threshold"), (["--threshold", "nan"], "--threshold"),
                        (["--batch", "0"], "--batch"), (["--tile", "32", "--stride", "0"], "--stride"),
                        (["--stride", "16"], "--tile")):
        cases.append(_one_line(*_invoke("predict", "--checkpoint", junk, "--images", imgs, "--out", tmp / "o",
                                        "--device", "cpu", *extra), says) and not (tmp / "o").exists())
    cases.append(_one_line(*_invoke("train", "--shards", "shards", "--out", tmp / "run", "--lr", "nan"), "lr"))
    run = write_tiny_run(tmp / "tiny")
    code, output = _invoke("predict", "--checkpoint", run, "--images", imgs, "--out", tmp / "empty", "--device",
                           "cpu", "--threshold", "0.99")  # the untrained model's probabilities stay near 0.5
    cases.append(code == 0 and "warning: no pixel is a boundary pixel" in output)
    return len(cases), sum(cases), ""


@train_row("8 kill -9 inside --keep-best's save (torch.save, before each of 4 publications) and of a "
           "first save: best.pt loads, best.json agrees or reads as not yet updated, nothing hidden after "
           "--resume's sweep")
def row_best_kills(tmp: Path):
    from segfix_train import checkpoint as ckpt
    from tests.support.killed_save import KEY, KILL_POINTS

    cases = []
    subprocess.run([sys.executable, "-m", "tests.support.killed_save", str(tmp)], cwd=REPO, env=_env(), check=True,
                   timeout=300)
    for kind in ("again", "first"):
        for point in KILL_POINTS:
            run = tmp / kind / f"kill_{point}"
            try:
                best = run / "best.pt"
                if best.exists():
                    state = ckpt.load_checkpoint(str(best), accept=(ckpt.BEST_FORMAT,))
                    rec = ckpt.read_best(str(run), KEY)
                    ok = rec is not None and (rec["step"], rec["value"]) == (state["step"], state["val"][KEY])
                else:
                    ok = ckpt.read_best(str(run), KEY) is None
                ckpt.remove_stale(str(run))
                left = sorted(p.name for p in run.iterdir())
                # best.json may be missing only where a first save was killed before writing it
                want = [["best.json", "best.pt", "best.pt.sha256"], ["best.pt", "best.pt.sha256"]] if best.exists() else [[]]
                ok = ok and left in want
                ok = ok and (not best.exists() or len((run / "best.pt.sha256").read_text().splitlines()) == 1)
            except Exception:  # noqa: BLE001 -- a refused best.pt is what this row counts
                ok = False
            cases.append(ok)
    return len(cases), sum(cases), ""


_KILLED_EXPORT = (
    "import os, sys, scipy.io\n"
    "from segfix_data.shards import ShardSet\n"
    "from segfix_data.shards.export import export_openseg_mat\n"
    "real, n = scipy.io.savemat, [0]\n"
    "def savemat(fh, arrays, **kw):\n"
    "    n[0] += 1\n"
    "    if n[0] == 2:\n"
    "        fh.write(b'MATLAB 5.0'); fh.flush(); os._exit(9)\n"
    "    real(fh, arrays, **kw)\n"
    "scipy.io.savemat = savemat\n"
    "export_openseg_mat(ShardSet(sys.argv[1], 'train'), sys.argv[2])\n")


@train_row("8 kill -9 inside segfix-gt export: the hidden .mat it leaves is removed by the next export")
def row_export_kill(tmp: Path):
    from segfix_data.shards import BuildConfig, build_split
    from segfix_data.synthetic import write_example_dataset

    data, shards_dir, dest = tmp / "data", tmp / "shards", tmp / "mat"
    write_example_dataset(data, splits={"train": 3}, height=32, width=64)
    build_split(data, shards_dir, "train", BuildConfig(tile=16, preset="openseg"))
    r = subprocess.run([sys.executable, "-c", _KILLED_EXPORT, str(shards_dir), str(dest)], cwd=REPO, env=_env(),
                       capture_output=True, text=True, timeout=300)
    folder = dest / "train" / "semantic"
    hidden = [p.name for p in folder.iterdir() if p.name.startswith(".")] if folder.exists() else []
    killed = r.returncode == 9 and len(hidden) == 1
    again = subprocess.run([sys.executable, "-m", "cli.gt", "export", str(shards_dir), str(dest), "--format",
                            "openseg-mat"], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    after = sorted(p.name for p in folder.iterdir())
    ok = killed and again.returncode == 0 and len(after) == 3 and not any(n.startswith(".") for n in after)
    return 1, int(ok), f"left by the kill: {hidden}"


def train_predict_rows(tmp: Path) -> list[dict]:
    """Run every registered row: ``[{"row", "cases", "handled", "note", ...figures}]``."""
    out = []
    for name, fn in TRAIN_ROWS.items():
        sub = tmp / f"train_row{len(out)}"
        sub.mkdir()
        figures = {}
        try:
            got = fn(sub)
            cases, handled, note = got[:3]
            figures = got[3] if len(got) > 3 else {}
        except Exception as e:  # noqa: BLE001 -- a row that crashes counts as not handled
            cases, handled, note = 1, 0, f"crashed: {type(e).__name__}: {str(e)[:200]}"
        out.append({"row": name, "cases": cases, "handled": int(handled), "note": note, **figures})
    return out


def print_rows(rows: list[dict]) -> None:
    print("\ntraining and prediction rows (cases handled / cases):")
    for r in rows:
        print(f"  {'ok ' if r['handled'] == r['cases'] else 'NOT'} {r['handled']}/{r['cases']}  {r['row']}")
        if r.get("note"):
            print(f"        {r['note']}")
