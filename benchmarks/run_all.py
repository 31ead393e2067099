"""Run every benchmark, keep their JSON, and regenerate ``benchmarks/RESULTS.md`` and the README's
performance table from it.

    python3 benchmarks/run_all.py            # every benchmark at full size (long: tens of minutes)
    python3 benchmarks/run_all.py --quick    # every benchmark's smoke run (a few minutes)
    python3 benchmarks/run_all.py --render   # only regenerate the two texts from RESULTS.json

Each script runs in its own process, one after the other (``--only`` / ``--skip`` pick sections;
the others show the JSON ``benchmarks/results/`` holds from an earlier run, else their figures in the
RESULTS.json being replaced when the same command made them, marked as an earlier run), and writes
its JSON to ``benchmarks/results/<script>[_quick].json``; its output goes to
``benchmarks/results/run_all[_quick].log``.
The run's JSON, ``benchmarks/RESULTS.json`` (committed), holds every script's JSON with the command
that made it, its status and its wall time; ``RESULTS.md`` and the README table between its
``results-table`` markers are rendered from that file alone (:func:`render_results`,
:func:`render_readme_table`), so no figure in them is typed by hand:
``tests/benchmarks/test_run_all.py`` renders the committed JSON and compares.

Two sections are not run unless asked: the GPU check (``gpu_check.py``, run when CUDA is present or
with ``--gpu``) and the direction ablation (``ablation_direction.py``, trains 9 models, ~40 min:
``--ablation``). Without them, their section shows the JSON of an earlier run of the script if
``benchmarks/results/`` holds one (with that run's date, machine and commit), else says that it
was not run on this machine.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from _common import RESULTS_DIR, machine_metadata  # noqa: E402

RESULTS_JSON = HERE / "RESULTS.json"
RESULTS_MD = HERE / "RESULTS.md"
README = REPO / "README.md"
TABLE_BEGIN = "<!-- results-table:begin (python3 benchmarks/run_all.py writes this table) -->"
TABLE_END = "<!-- results-table:end -->"


@dataclasses.dataclass(frozen=True)
class Bench:
    """One benchmark script: what it measures (``key``, a section of RESULTS.md) and how it is run.

    Attributes:
        key: the section (targets, build, crops, training, validation, predict, refine, eval, faults,
            ablation, gpu).
        script: the file in ``benchmarks/``.
        args: its arguments for the full run; ``quick_args`` for ``--quick``.
        json_flag: its option naming the JSON path.
        optional: not run unless asked (``"gpu"``: CUDA or ``--gpu``; ``"ablation"``: ``--ablation``).
        tag: tells apart two entries of one script (its JSON is ``<script>_<tag>.json``).
        before: a commit; the script runs with ``{before}`` in its arguments replaced by a checkout
            of that commit (``git archive`` into a temporary folder), for a before/after column.
    """

    key: str
    script: str
    args: tuple = ()
    quick_args: tuple = ("--quick",)
    json_flag: str = "--json"
    optional: str | None = None
    tag: str | None = None
    before: str | None = None

    @property
    def name(self) -> str:
        return self.script.removesuffix(".py") + (f"_{self.tag}" if self.tag else "")


#: The commit before the data-side reliability work (offsets and .npy judged by what they declare,
#: whole OUT_DIRs published): the "before" column of the hostile-input cases.
HOSTILE_BEFORE = "941e2d7"

BENCHES = (
    Bench("targets", "bench_targets.py", ("--cpu-time",), ("--quick", "--cpu-time")),
    Bench("build", "bench_build.py", ("--cpu-time",), ("--quick", "--cpu-time"), json_flag="--out"),
    Bench("crops", "bench_loader.py"),
    Bench("training", "bench_train.py", ("--crop", "256")),  # 512 px CPU steps take minutes each
    Bench("predict", "bench_predict.py", ("--threads", "1", "--repeats", "1")),  # ~1 min a forward pass
    Bench("refine", "bench_refine.py"),
    Bench("eval", "demo_table1.py"),
    Bench("eval", "demo_trained.py"),
    Bench("validation", "coarse_bias.py"),
    Bench("validation", "bench_validation.py"),
    Bench("faults", "fault_injection.py", json_flag="--out"),
    # The hostile-input cases against the checkout before the data-side reliability work.
    Bench("faults", "fault_injection.py", ("--hostile-only", "--hostile-repo", "{before}"),
          ("--quick", "--hostile-only", "--hostile-repo", "{before}"), json_flag="--out", tag="before",
          before=HOSTILE_BEFORE),
    Bench("ablation", "ablation_direction.py", optional="ablation"),
    Bench("gpu", "gpu_check.py", optional="gpu"),
)
#: Scripts that time with the wall clock and do not say so in their JSON.
WALL_CLOCK = ("bench_loader.py", "bench_train.py", "bench_predict.py", "bench_refine.py", "gpu_check.py",
              "bench_validation.py")
SECTIONS = ("targets", "build", "crops", "training", "validation", "predict", "refine", "eval", "faults", "ablation",
            "gpu")


def json_path(bench: Bench, quick: bool, results_dir: Path = RESULTS_DIR) -> Path:
    return Path(results_dir) / f"{bench.name}{'_quick' if quick else ''}.json"


def _git(*args) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def command_line(bench: Bench, quick: bool) -> str:
    """The command that makes a section's JSON, as a user types it (its JSON path left out)."""
    args = bench.quick_args if quick else bench.args
    shown = f"<a checkout of {bench.before}>" if bench.before else "{before}"
    return " ".join(["python3", f"benchmarks/{bench.script}", *(a.replace("{before}", shown) for a in args)])


def run_bench(bench: Bench, quick: bool, log, results_dir: Path = RESULTS_DIR) -> dict:
    """Run one script (its output goes to ``log``); its entry of RESULTS.json."""
    out = json_path(bench, quick, results_dir)
    out.unlink(missing_ok=True)
    if bench.before:
        with tempfile.TemporaryDirectory(prefix="segfix-before-") as tmp:
            if not _checkout(bench.before, Path(tmp)):
                entry = {"script": bench.script, "command": command_line(bench, quick), "seconds": None,
                         "status": "failed", "result": None, "error": f"no checkout of {bench.before}"}
                print(f"   failed ({entry['error']})", flush=True)
                return entry
            return _run_bench(bench, quick, log, out, tmp)
    return _run_bench(bench, quick, log, out)


def _checkout(commit: str, dest: Path) -> bool:
    """Write the tree of ``commit`` into ``dest`` (``git archive``); False if git cannot."""
    try:
        archive = subprocess.run(["git", "archive", commit], cwd=REPO, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


def _run_bench(bench: Bench, quick: bool, log, out: Path, before_dir: str | None = None) -> dict:
    args = [a.replace("{before}", before_dir) if before_dir else a for a in (bench.quick_args if quick else bench.args)]
    cmd = [sys.executable, f"benchmarks/{bench.script}", *args, bench.json_flag, str(out)]
    shown = command_line(bench, quick)
    print(f"== {shown}", flush=True)
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seconds = time.perf_counter() - t0
    log.write(f"== {shown}\n{proc.stdout}\n")
    log.flush()
    entry = {"script": bench.script, "command": shown, "seconds": round(seconds, 1), "status": "ran",
             "result": None}
    if proc.returncode != 0 or not out.is_file():
        tail = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()][-1:] or ["no output"]
        entry.update(status="failed", error=f"exit status {proc.returncode}: {tail[0][:300]}")
        print(f"   failed ({entry['error']})", flush=True)
        return entry
    entry["result"] = json.loads(out.read_text())
    print(f"   {seconds:.0f} s", flush=True)
    return entry


def earlier_entry(bench: Bench, quick: bool, results_dir: Path = RESULTS_DIR, previous: dict | None = None) -> dict:
    """The entry of a script this run does not run: the JSON ``benchmarks/results/`` holds from an
    earlier run of it (the same mode; the full-size one for the GPU check and the ablation, whose
    smoke runs say nothing), else its figures in ``previous`` (the RESULTS.json this run replaces,
    when made by the same command), or none."""
    quick = quick and bench.optional is None
    path = json_path(bench, quick, results_dir)
    entry = {"script": bench.script, "command": command_line(bench, quick), "seconds": None,
             "status": "not run", "result": None}
    if path.is_file():
        entry.update(status="earlier run", result=json.loads(path.read_text()))
    elif previous and (previous.get("quick", False) == quick or bench.optional):
        old = previous.get("benchmarks", {}).get(bench.name) or {}
        if old.get("result") is not None and old.get("command") == entry["command"]:
            entry.update(status="earlier run", result=old["result"])
    return entry


def run(args, argv: list, previous: dict | None = None) -> dict:
    """Run the chosen benchmarks; the content of RESULTS.json (``previous``: the one it replaces)."""
    keys = set(args.only.split(",")) if args.only else set(SECTIONS)
    keys -= set(args.skip.split(",")) if args.skip else set()
    unknown = keys - set(SECTIONS)
    if unknown:
        raise SystemExit(f"run_all: unknown section(s) {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    asked = {"gpu": args.gpu or _cuda(), "ablation": args.ablation}
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    results = {"command": " ".join(["python3 benchmarks/run_all.py", *argv]), "quick": args.quick,
               "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": machine_metadata(), "uncommitted_changes": bool(dirty), "benchmarks": {}}
    results_dir = Path(args.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    log_path = results_dir / f"run_all{'_quick' if args.quick else ''}.log"
    with open(log_path, "w") as log:
        for bench in BENCHES:
            if bench.key in keys and (bench.optional is None or asked[bench.optional]):
                entry = run_bench(bench, args.quick, log, results_dir)
            else:
                entry = earlier_entry(bench, args.quick, results_dir, previous)
            results["benchmarks"][bench.name] = entry
    results["finished_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(f"every script's output: {log_path}")
    return results


# ------------------------------------------------------------------------------------ rendering


def _f(x, nd=1, unit="") -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (int, float)):
        return f"{x:,.{nd}f}{unit}"
    return str(x)


def _x(x) -> str:
    return "-" if x is None else (f"{x:,.0f}x" if x >= 100 else f"{x:.1f}x" if x >= 10 else f"{x:.2f}x")


def _table(header: list, rows: list) -> list:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def _meta(payload: dict) -> dict:
    for k in ("meta", "metadata", "machine"):
        if isinstance(payload.get(k), dict):
            return payload[k]
    return {}


def machine_line(meta: dict) -> str:
    load = meta.get("load_average_1_5_15m") or []
    load_txt = f", load {' / '.join(f'{v:.1f}' for v in load)}" if load else ""
    gpu = f", GPU {meta['cuda']}" if meta.get("cuda") else ""
    return (f"{meta.get('cpu', '?')}, {meta.get('cores', '?')} cores{load_txt}{gpu}; python "
            f"{meta.get('python', '?')}, numpy {meta.get('numpy', '?')}, numba {meta.get('numba', '?')}, "
            f"torch {meta.get('torch', '?')}")


def run_line(entry: dict) -> str:
    """Where a table comes from: the command, date, machine, commit (and the clock when given)."""
    p = entry["result"]
    meta = _meta(p)
    when = meta.get("time_utc", "?").replace("T", " ").replace("Z", " UTC")
    commit = str(meta.get("git_commit") or "?")[:10]
    clock = p.get("clock") or ("wall" if entry["script"] in WALL_CLOCK else None)
    clock_txt = f"; clock: {'CPU time of the process' if clock == 'cpu' else 'wall time'}" if clock else ""
    earlier = " (an earlier run, not part of this one)" if entry["status"] == "earlier run" else ""
    return (f"`{entry['command']}`{earlier}: {when}, commit `{commit}`; {machine_line(meta)}{clock_txt}"
            f"{'; ' + str(round(entry['seconds'])) + ' s' if entry.get('seconds') else ''}.")


def _absent(entry: dict | None, what: str) -> list | None:
    """The lines that stand for a table whose benchmark has no figures, else None."""
    if entry is None:
        return [f"*{what}: not in this run.*"]
    if entry["status"] == "failed":
        return [f"*`{entry['command']}` failed in this run ({entry.get('error', '')}); no figures.*"]
    if entry["result"] is None:
        return [f"*`{entry['command']}`: not run on this machine; no figures.*"]
    return None


def _targets(b: dict) -> list:
    e = b.get("bench_targets")
    miss = _absent(e, "targets")
    if miss:
        return miss
    p = e["result"]
    h, w = p.get("size", ["?", "?"])
    s = p.get("summary", {})
    filters = [f for f in ("torch", "cv2") if any(f"{f}_ms" in v for v in s.values())]
    head = ["case", "labels", "boundary px", "ours ms", "ours, capped EDT", "ours, + band 15 (the build)"]
    names = {"torch": "authors (scipy EDT + torch conv2d per class)", "cv2": "OpenCV filter2D per class"}
    for f in filters:
        head += [f"{names[f]} ms", "ratio"]
    rows = []
    for case in dict.fromkeys([r["case"] for r in p.get("rows", [])] + list(s)):  # the script's order
        v = s[case]
        r = [case, _f(v.get("labels"), 0), _f(100 * v.get("boundary_fraction", 0), 1, "%"), _f(v.get("ours_ms")),
             _f(v.get("ours_bounded_ms")), _f(v.get("ours_band_ms"))]
        for f in filters:
            r += [_f(v.get(f"{f}_ms"), 0), _x(v.get(f"{f}_ratio"))]
        rows.append(r)
    out = [run_line(e), "",
           f"Generated Cityscapes-like {w}x{h} label maps (and dense variants, ~20% boundary pixels), one "
           "thread, median over frames. Baselines in the same process, on the same maps; ratio = "
           "baseline / ours (full distance). The script checks distance and boundary equal to each "
           "baseline's, and the directions on >= 99.99% of boundary pixels.", ""]
    out += _table(head, rows)
    edt = p.get("edt_summary", {})
    if edt:
        out += ["", "Exact EDT alone (max |difference| against ours):", ""]
        out += _table(["case", "method", "ms", "max abs diff"],
                      [k.split(" | ", 1) + [_f(v.get("ms")), f"{v.get('max_abs_diff', 0):.2g}"]
                       for k, v in edt.items()])
    return out


def _build(b: dict) -> list:
    e = b.get("bench_build")
    miss = _absent(e, "build")
    if miss:
        return miss
    p = e["result"]
    base = p.get("baseline", {})
    out = [run_line(e), "",
           f"{p.get('frames')} generated {p.get('width')}x{p.get('height')} frames, PNG files on disk to "
           f"published shards, one thread per process, median of {p.get('repeats')} interleaved rounds. "
           "Baseline, same process and frames: the authors' generator (per-class scipy EDT + per-class "
           f"5x5 {base.get('filter', 'torch conv2d')} + compressed `savemat`). x per core = baseline ms / "
           "(ours ms x jobs).", ""]
    rows = [["authors' generator + `savemat`", 1, _f(base.get("ms_per_frame")), "1.00",
             _f(base.get("mat_bytes_per_frame", 0) / 1024), _f(base.get("mat_bytes_per_frame", 0) / 1024)]]
    for r in p.get("builds", []):
        rows.append([f"`segfix-gt build`, {r['config']}", r["jobs"], _f(r["ms_per_frame"]),
                     _f(r["speedup_per_core"], 2), _f(r.get("targets_bytes_per_frame", 0) / 1024),
                     _f(r.get("all_bytes_per_frame", 0) / 1024)])
    out += _table(["method", "jobs", "ms/frame", "x per core", "targets KiB/frame", "all KiB/frame"], rows)
    for name, prof in p.get("stages_cpu_ms_per_frame", {}).items():
        bef, aft = prof["before_ms"], prof["after_ms"]
        out += ["", f"Where a frame's CPU time goes, build {name}, one job: before = the two-pass build "
                "(targets at gamma and again at the direction band, each source read twice; "
                "`tests/support/build_reference.py`), after = `process_frame`, in the same run "
                f"(same arrays stored: {_f(prof.get('same_arrays'))}); the rows add up to the total.", ""]
        rows = [[k, _f(bef[k], 2), _f(aft[k], 2), _f(aft[k] / bef[k], 2) if bef[k] > 0.05 else "-"]
                for k in prof.get("stages", list(bef))]
        rows = [[f"**{r[0]}**"] + [f"**{c}**" for c in r[1:]] if r[0] == "total" else r for r in rows]
        out += _table(["stage", "before ms", "after ms", "after / before"], rows)
    reads = p.get("reads_ms", {})
    if reads:
        out += ["", "Reads from the default build (no HDF5 chunk cache, median):", ""]
        out += _table(["read", "ms"], [[k, _f(v, 2)] for k, v in reads.items()])
    fb = p.get("frame_breakdown_ms", {})
    if fb:
        out += ["", "One frame's steps apart, in-process (median ms):", ""]
        out += _table(["step", "ms"], [[k, _f(v, 2)] for k, v in fb.items()])
    return out


def _crops(b: dict) -> list:
    e = b.get("bench_loader")
    miss = _absent(e, "crops")
    if miss:
        return miss
    r = e["result"].get("results", {})
    fr = r.get("frame", ["?", "?"])
    out = [run_line(e), "",
           f"Training crops of {r.get('crop')} px from {fr[1]}x{fr[0]} frames, one worker, one thread, "
           f"median of {r.get('repeats')} repeats. Baseline in the same run: the authors' loader (PNG "
           "decode + `.mat` load + label encoding + the same augmentation).", ""]
    rows = [["ours (shard tiles)", _f(r.get("ours_ms_per_crop"), 2), _f(r.get("ours_crops_per_s")), _x(r.get("speedup"))],
            ["ours + flip and normalisation on the CPU", _f(r.get("ours_with_cpu_normalisation_ms_per_crop"), 2),
             _f(1e3 / r["ours_with_cpu_normalisation_ms_per_crop"]) if r.get("ours_with_cpu_normalisation_ms_per_crop") else "-",
             _x(r.get("speedup_with_cpu_normalisation"))],
            ["authors' loader", _f(r.get("authors_ms_per_crop"), 2), _f(r.get("authors_crops_per_s")), "1.00x"]]
    return out + _table(["loader", "ms/crop", "crops/s", "x authors"], rows)


def _training(b: dict) -> list:
    e = b.get("bench_train")
    miss = _absent(e, "training")
    if miss:
        return miss
    p = e["result"]
    st = p.get("settings", {})
    out = [run_line(e), "",
           f"Training steps on {p.get('device')}, crops {st.get('crop')} px, batch {st.get('batch')}, "
           f"{st.get('steps')} steps x median of {st.get('repeats')}. Baseline in the same run: a bare "
           "loop (the same model and optimiser, a plain cross-entropy loss, no input preparation); "
           "parts overhead = (our loss + device input preparation - bare loss) / bare step time.", ""]
    rows = [[r["model"], _f(r.get("ours_images_per_s"), 2), _f(r.get("bare_images_per_s"), 2),
             _f(r.get("overhead_pct"), 1, "%"), _f(r.get("parts_overhead_pct"), 2, "%")] for r in p.get("results", [])]
    return out + _table(["model", "ours img/s", "bare img/s", "whole-step overhead", "parts overhead"], rows)


def _validation(b: dict) -> list:
    out = []
    e = b.get("coarse_bias")
    miss = _absent(e, "coarse maps")
    if miss:
        out += miss
    else:
        p = e["result"]
        a = p.get("args", {})
        shift, gains = p.get("rectangle_shift_px", {}), p.get("gains", {})
        out += [run_line(e), "",
                "The coarse copies of the label maps that validation (and the direction ablation) refine, made "
                "three ways from 8x8 tiles: its top-left pixel, its middle pixel, its most frequent label. "
                "Shift: mean displacement (dy, dx) of a rectangle's coarse copy over every placement against "
                f"the tiles. Gains (points, refined minus coarse, offset scale 2) on {a.get('frames')} generated "
                f"{a.get('width')}x{a.get('height')} frames, refining with the ground-truth boundary and its true "
                "directions, one constant direction (down-right) or random directions: an unshifted map "
                "rewards only the true ones.", ""]
        rows = []
        for kind, by in gains.items():
            dy, dx = shift.get(kind, ["?", "?"])
            for i, (how, v) in enumerate(by.items()):
                rows.append([kind if i == 0 else "", f"({_f(dy, 1)}, {_f(dx, 1)})" if i == 0 else "",
                             _f(100 * v["coarse_miou"]) if i == 0 else "", how, f"{100 * v['delta_miou']:+.2f}",
                             f"{100 * v['delta_f_1px']:+.2f}", f"{100 * v['delta_f_3px']:+.2f}"])
        out += _table(["coarse map", "shift px (dy, dx)", "coarse mIoU", "directions", "d mIoU", "d F@1px",
                       "d F@3px"], rows)
    out += [""]
    e = b.get("bench_validation")
    miss = _absent(e, "validation cost")
    if miss:
        return out + miss
    p = e["result"]
    h, w = p.get("frame", ["?", "?"])
    r = p.get("recipe", {})
    out += [run_line(e), "",
            f"Validation seconds per frame on {p.get('device')} (model `{p.get('model')}`, {p.get('frames')} "
            f"{w}x{h} frames, {p.get('workers')} workers, batch {p.get('val_batch')}, median of "
            f"{p.get('repeats')}), before (one frame at a time in the training process, coarse and refined "
            "maps scored every pass) and after (`Validator`: batched, workers, coarse scores once) in the same "
            "process on the same frames. On a CPU with the stand-in network the device's part runs on the CPU "
            "beside the workers, so these seconds measure this machine; the projections say what a GPU run "
            "would see.", ""]
    out += _table(["validation", "s/frame", "before / this"],
                  [["before", _f(p.get("before_s_per_frame"), 3), "1.00x"],
                   ["after, first pass (pool start, coarse scores)", _f(p.get("after_first_pass_s_per_frame"), 3),
                    _x(p["before_s_per_frame"] / p["after_first_pass_s_per_frame"])
                    if p.get("after_first_pass_s_per_frame") else "-"],
                   ["after, later passes", _f(p.get("after_s_per_frame"), 3), _x(p.get("ratio"))]])
    rows = []
    for label, proj, unit in (("this device", p.get("projection"), "s"),
                              ("FLOPs of `" + str((p.get("flops") or {}).get("model")) + "` (one efficiency)",
                               (p.get("flops") or {}).get("projection"), None),
                              ("host parts + the paper's 69 ms forward", p.get("host_projection"), "s")):
        if not proj:
            continue
        rows.append([label, _f(proj.get("frames_before"), 0), _f(proj.get("frames_after"), 0),
                     _f(proj.get("before_val_s") / 3600, 1, " h") if unit else "-",
                     _f(proj.get("after_val_s") / 3600, 1, " h") if unit else "-",
                     _f(100 * proj.get("before_share"), 1, "%"), _f(100 * proj.get("after_share"), 1, "%")])
    out += ["", f"Projected share of an {r.get('iters', 0) // 1000}K-iteration run (validation every "
            f"{r.get('val_every')} steps, batch {r.get('batch')} of {r.get('crop')} px crops; before: all "
            f"{r.get('val_frames')} val frames each time; after: {r.get('val_subset')} during the run, all at "
            "the end) = validation seconds / (training + validation seconds):", ""]
    out += _table(["projection", "frames before", "frames after", "validation before", "validation after",
                   "share before", "share after"], rows)
    host = p.get("host_parts_s_per_frame") or {}
    if host:
        out += ["", "Host parts per frame (ms): " + ", ".join(f"{k} {_f(1e3 * v, 1)}" for k, v in host.items())
                + "."]
    return out


def _predict(b: dict) -> list:
    e = b.get("bench_predict")
    miss = _absent(e, "predict")
    if miss:
        return miss
    p = e["result"]
    st = p.get("settings", {})
    size = st.get("size", ["?", "?"])
    out = [run_line(e), "",
           f"Offsets for one {size[0]}x{size[1]} frame on {p.get('device')} (`{st.get('preset')}` preset, "
           f"whole frame in one pass, random weights), median of {st.get('repeats')}. Baseline in the same "
           "run: the bare forward pass of the same network on the same frame; the paper's figures (V100 + "
           "TensorRT) are quoted, not measured.", ""]
    rows = [[r["model"], r.get("amp", r.get("precision", "-")), r.get("threads", "-"), _f(r.get("ours_ms")), _f(r.get("bare_ms")),
             _f(r.get("overhead_pct"), 1, "%"), _f(r.get("paper_v100_tensorrt_ms"), 0)] for r in p.get("results", [])]
    return out + _table(["model", "AMP", "threads", "ours ms", "bare forward ms", "overhead",
                         "paper ms (V100, TensorRT)"], rows)


def _refine_rows(p: dict, boundary: bool) -> list:
    return [r for r in p.get("rows", []) if r["task"].startswith("boundary F") == boundary]


def _refine(b: dict) -> list:
    e = b.get("bench_refine")
    miss = _absent(e, "refine")
    if miss:
        return miss
    p = e["result"]
    h, w = p.get("frame", ["?", "?"])
    out = [run_line(e), "",
           f"One generated {w}x{h} frame, one thread. Baselines in the same run: the authors' "
           "`grid_sample` shifts. Pixels where a baseline differs from the exact shift: one-hot "
           f"{_f(p.get('onehot_grid_sample_pixels_differing'), 0)}, id "
           f"{_f(p.get('id_grid_sample_pixels_differing'), 0)} (of which "
           f"{_f(p.get('id_grid_sample_blended_id_pixels'), 0)} hold a blended id).", ""]
    rows = [[r["task"], _f(r["ours_ms"], 2), _f(r["baseline_ms"], 2), _x(r["ratio"])] for r in _refine_rows(p, False)]
    return out + _table(["task", "ours ms", "baseline ms", "ratio"], rows)


def _scores(res: dict, keys: list, methods: list) -> list:
    rows = []
    for label, key in methods:
        r = res.get(key)
        if r is None:
            continue
        f = r.get("boundary_f", {})
        rows.append([label, _f(100 * r["miou"])] + [_f(100 * f[k]) if k in f else "-" for k in keys])
    return rows


def _eval(b: dict) -> list:
    out = []
    e = b.get("bench_refine")
    if e is not None and e.get("result"):
        p = e["result"]
        out += [run_line(e), "",
                "Boundary F-score (19 classes x 3 thresholds) against a per-class dilation implementation "
                f"in the same run (the same scores: {_f(p.get('boundary_f_identical'))}):", ""]
        out += _table(["task", "ours ms", "baseline ms", "ratio"],
                      [[r["task"], _f(r["ours_ms"], 2), _f(r["baseline_ms"], 2), _x(r["ratio"])]
                       for r in _refine_rows(p, True)])
        out += [""]
    e = b.get("demo_table1")
    miss = _absent(e, "the paper's Table 1 with ground-truth offsets")
    if miss:
        out += miss
    else:
        p = e["result"]
        out += [run_line(e), "",
                f"The paper's Table 1 on {p.get('frames')} generated {p.get('width')}x{p.get('height')} frames: "
                "coarse model-like predictions (class scores at 1/8 or 1/4 resolution, upsampled), refined with "
                "ground-truth offsets. Boundary F at thresholds given as fractions of the image diagonal "
                "(the paper's; in pixels in brackets).", ""]
        res = p.get("results", {})
        ths = sorted({k for r in res.values() for k in r.get("boundary_f", {})}, key=float)
        diag = (float(p.get("width", 0)) ** 2 + float(p.get("height", 0)) ** 2) ** 0.5
        methods = [(f"{m.replace(' model', '')}, {meth}", f"{m} | {meth}") for m in p.get("models", [])
                   for meth in p.get("methods", [])]
        out += _table(["model, method", "mIoU"] + [f"F@{t} ({float(t) * diag:.1f} px)" for t in ths],
                      _scores(res, ths, methods))
    out += [""]
    e = b.get("demo_trained")
    miss = _absent(e, "offsets of a trained model")
    if miss:
        return out + miss
    p = e["result"]
    a = p.get("args", {})
    res = p.get("results", {})
    out += [run_line(e), "",
            f"With offsets predicted by a model trained here: HRNet-W18 (narrow), {a.get('iters')} iterations of "
            f"batch {a.get('batch')} x {a.get('crop')} px crops on {a.get('train_frames')} generated "
            f"{a.get('width')}x{a.get('height')} frames (seed {a.get('seed')}), scored on "
            f"{a.get('val_frames')} held-out frames; boundary F at true pixel radii. Baseline in the same run: "
            "the unrefined predictions, and ground-truth offsets as the ceiling.", ""]
    ths = sorted({k for r in res.values() for k in r.get("boundary_f", {})}, key=float)
    methods = [(k, k) for k in ("w/o SegFix", "trained model, scale 1", "trained model, scale 2", "GT offsets, scale 2")]
    out += _table(["method", "mIoU"] + [f"F@{t}px" for t in ths], _scores(res, ths, methods))
    return out


def _faults(b: dict) -> list:
    e = b.get("fault_injection")
    miss = _absent(e, "faults")
    if miss:
        return miss
    r = e["result"].get("results", {})
    k, d, c = r.get("kills", {}), r.get("damage", {}), r.get("checkpoints", {})
    rows = [
        ["`kill -9` of `segfix-gt build --jobs 2` at a random moment, then the same command", k.get("kills"),
         f"{k.get('finished_before_kill')} builds finished before their kill; "
         f"{k.get('resumed_complete')} resumed complete; {k.get('samples_lost')} samples lost, "
         f"{k.get('samples_different')} different; {k.get('processes_left_after_kill')} processes left; "
         f"verify said incomplete {k.get('verify_said_incomplete')}"],
        ["one flipped bit in a random stored chunk", d.get("trials"),
         f"verify {d.get('detected_by_verify')}, on read {d.get('detected_on_read')} (file named "
         f"{d.get('read_error_names_file')}); raw image tiles {d.get('raw_image_tile_detected_on_read')}/"
         f"{d.get('raw_image_tile_trials')}"],
        ["one flipped bit in a checkpoint", c.get("bit_flips"), f"refused {c.get('bit_flips_refused')}"],
        ["a truncated checkpoint", c.get("truncations"), f"refused {c.get('truncations_refused')}"],
        ["a crafted pickle checkpoint", c.get("crafted_pickles"),
         f"refused {c.get('crafted_refused')}, its code ran {c.get('crafted_code_ran')} times"],
    ]
    for group in ("bad_inputs", "integrity"):
        g = r.get(group, {})
        if g:
            rows.append([f"{'kinds of bad input' if group == 'bad_inputs' else 'edited shards and manifests'}: "
                         + "; ".join(g.get("by_kind", {})), g.get("kinds"), f"handled {g.get('handled')}"])
    for row in r.get("rows", []):
        rows.append([row["row"], row["cases"], f"handled {row['handled']}"])
    out = [run_line(e), "",
           "Every case runs in one temporary directory; every subprocess in its own session, killed at the "
           "end if alive.", ""]
    out += _table(["fault", "trials", "caught"], rows)
    out += _hostile(r.get("hostile"), b.get("fault_injection_before"))
    tp = r.get("train_predict") or []
    if tp:
        out += ["", "Training and prediction rows (`benchmarks/fault_rows_train.py`): each the real command; "
                "handled = one line naming the file, exit 2 (or the run resumed intact); the crafted model specs' "
                "peak memory (RSS of the refused `segfix predict`) over a normal predict's, limit 2x.", ""]
        out += _table(["row", "handled / cases", "max peak ratio", "figures"],
                      [[t["row"], f"{t['handled']}/{t['cases']}", _x(t.get("max_ratio")) if t.get("max_ratio") else "-",
                        t.get("note") or ""] for t in tp])
    return out


def _hostile(h: dict | None, before: dict | None) -> list:
    """The hostile-input cases, each with its exit status and peak RSS ratio, and the same cases
    against the earlier checkout when ``before`` holds its run."""
    if not h:
        return []
    bh = ((before or {}).get("result") or {}).get("results", {}).get("hostile")
    old = {g["group"]: g["rows"] for g in (bh or {}).get("groups", [])}

    def before_row(group: str, i: int, case: str):
        """The earlier checkout's row of ``case``: the same name, else the same place in a group of the
        same length (a case whose name holds its figures)."""
        rows = old.get(group, [])
        named = [r for r in rows if r["case"] == case]
        return named[0] if named else rows[i] if len(rows) == len(by_group[group]) else None

    by_group = {g["group"]: g["rows"] for g in h.get("groups", [])}
    out = ["", f"Hostile or careless input: each case the real command in its own process; handled = it ends "
           f"with the expected exit status and one line naming the file; a bomb case also needs its peak RSS "
           f"within {_f(h.get('peak_ratio_limit'), 0)}x of a normal refine of the same "
           f"{h['bomb_frame'][1]}x{h['bomb_frame'][0]} frame ({_f(h.get('normal_refine_peak_mib'), 0)} MiB).", ""]
    if bh:
        out[-2] += (f" Before: the same cases, driven by this script, run the commands of "
                    f"{before['command'].split('<', 1)[-1].rstrip('>')} (before offsets and `.npy` files were "
                    f"judged by what they declare and OUT_DIRs published whole; normal refine "
                    f"{_f(bh.get('normal_refine_peak_mib'), 0)} MiB there): " + run_line(before))

    def cells(r):
        if r is None:
            return ["-", "-", "-"]
        rc = "-" if r.get("rc") is None else str(r["rc"]) + (" (timed out)" if r.get("timed_out") else "")
        return ["yes" if r["handled"] else "**no**", rc, _x(r.get("peak_ratio")) if "peak_ratio" in r else "-"]

    head = ["group", "case", "handled", "exit", "peak / normal"]
    if bh:
        head += ["before: handled", "exit", "peak / normal"]
    rows = []
    for g in h.get("groups", []):
        for i, r in enumerate(g["rows"]):
            first = f"{g['group']} ({g['handled']}/{g['cases']})" if i == 0 else ""
            rows.append([first, r["case"]] + cells(r) + (cells(before_row(g["group"], i, r["case"])) if bh else []))
    if bh:
        hb = sum(g["handled"] for g in bh.get("groups", []))
        cb = sum(g["cases"] for g in bh.get("groups", []))
    ha = sum(g["handled"] for g in h.get("groups", []))
    ca = sum(g["cases"] for g in h.get("groups", []))
    rows.append(["**all**", "", f"**{ha}/{ca}**", "", ""] + ([f"**{hb}/{cb}**", "", ""] if bh else []))
    return out + _table(head, rows)


def _ablation(b: dict) -> list:
    e = b.get("ablation_direction")
    miss = _absent(e, "the direction ablation")
    if miss:
        return miss + ["", "Run `python3 benchmarks/ablation_direction.py` (nine small models, about 40 minutes "
                       "on a CPU), then `python3 benchmarks/run_all.py --render` to show it here."]
    p = e["result"]
    a = p.get("args", {})
    if "summary" not in p:  # a single-seed run of the script's first version
        return [run_line(e), "", "*A single-seed run, without the summary over seeds this section shows; rerun "
                "`python3 benchmarks/ablation_direction.py`.*"]
    from ablation_direction import markdown

    secs = p.get("seconds") or {}
    out = [run_line(e), "",
           f"One narrow HRNet-W18 per `--direction-pixels` mode and seed (seeds {', '.join(map(str, a.get('seeds', [])))}"
           f"; within a seed every mode starts from the same weights and sees the same crops), {a.get('iters')} "
           f"iterations of {a.get('batch')} crops of {a.get('crop')} px on {a.get('train_frames')} generated "
           f"{a.get('width')}x{a.get('height')} frames (data seed {a.get('data_seed')}), scored on "
           f"{a.get('val_frames')} held-out frames ({_f(sum(secs.values()) / 60, 0)} min of training and scoring). "
           "Boundary head against the ground-truth boundary (gamma 5), mean ± sample sd over seeds:", ""]
    head, gains = markdown(p).split("\n\n", 1)
    out += head.splitlines() + ["", "Gain of the refined over the coarse labels, points: mean ± sd over seeds "
                                "[min, max], and the paired difference to `predicted` (seed by seed) with its 95% t "
                                "interval. References without a model: the ground-truth offsets, and the "
                                "ground-truth boundary with one constant direction (a shifted coarse map rewards "
                                "it).", ""]
    return out + gains.splitlines()


def _gpu(b: dict) -> list:
    e = b.get("gpu_check")
    if e is not None and e.get("result") and e["result"].get("device") != "cuda":
        e = dict(e, result=None)  # a CPU smoke run says nothing about a GPU
    miss = _absent(e, "the GPU check")
    if miss:
        return miss + ["", "On a machine with CUDA, `python3 benchmarks/run_all.py` runs "
                       "`benchmarks/gpu_check.py` (training img/s and memory, `segfix train` end to end, "
                       "checkpoint writes, validation s/frame and its share of a run, host syncs, bf16 against "
                       "fp32, loader crops/s, predict ms per frame in fp32 and bf16, a training step under CUDA "
                       "sync checks)."]
    p = e["result"]
    out = [run_line(e), "", "Training step (`TrainStep`, channels-last):", ""]
    out += _table(["model", "AMP", "batch", "crop", "img/s", "peak GiB"],
                  [[r["model"], r.get("amp"), r.get("batch"), r.get("crop"), _f(r.get("img_per_s")),
                    _f(r.get("peak_mem_gib"), 2)] for r in p.get("train", [])])
    if p.get("end_to_end"):
        out += ["", "`segfix train` itself (shards, DataLoader workers, logging, the final checkpoint) against "
                "the bare step:", ""]
        out += _table(["model", "workers", "img/s", "bare step img/s"],
                      [[r.get("model"), r.get("workers"), _f(r.get("img_per_s")), _f(r.get("bare_img_per_s"))]
                       for r in p["end_to_end"]])
    ck = p.get("checkpoint") or {}
    if ck.get("write_s") is not None:
        out += ["", f"Checkpoint of `{ck.get('model')}`: {_f(ck.get('write_s'), 2)} s to write "
                f"{_f(ck.get('mib'), 0)} MiB."]
    val = p.get("validation") or {}
    if val.get("rows"):
        out += ["", f"Validation (`valpass`, `{val.get('model')}`, AMP {val.get('amp')}):", ""]
        out += _table(["frame", "s/frame", "first pass s/frame", "before s/frame", "peak GiB"],
                      [[f"{r['frame'][1]}x{r['frame'][0]}", _f(r.get("s_per_frame"), 4),
                        _f(r.get("first_pass_s_per_frame"), 4), _f(r.get("before_s_per_frame"), 4),
                        _f(r.get("peak_mem_gib"), 1)] for r in val["rows"]])
        pr = val.get("projection")
        if pr:
            out += ["", f"Projected share of an 80K Cityscapes run: before {_f(100 * pr['before_share'], 1, '%')} "
                    f"({pr['frames_before']} frames), after {_f(100 * pr['after_share'], 2, '%')} "
                    f"({pr['frames_after']} frames)."]
    if p.get("host_syncs"):
        out += ["", "Host synchronisations over the loop's steps and one log flush:", ""]
        out += _table(["case", "AMP", "accum", "steps", "syncs", "expected"],
                      [[r.get("case"), r.get("amp"), r.get("accum"), r.get("steps"),
                        r["syncs"] if r.get("syncs") is not None else r.get("note", "-"), r.get("expected")]
                       for r in p["host_syncs"]])
    pc = p.get("precision") or {}
    if pc.get("bf16"):
        out += ["", f"bf16 against fp32, {pc.get('steps')} steps of `{pc.get('model')}` from the same weights: "
                f"loss max |diff| {pc['max_abs_diff']:.3g}, mean {pc['mean_abs_diff']:.3g}."]
    out += [""] + _table(["model", "AMP", "ours ms", "bare forward ms", "paper ms (V100, TensorRT)"],
                         [[r["model"], r.get("amp", r.get("precision")), _f(r.get("ours_ms")), _f(r.get("bare_ms")),
                           _f(r.get("paper_v100_tensorrt_ms"), 0)] for r in p.get("predict", [])])
    ld = p.get("loader", {})
    out += ["", f"Loader: {_f(ld.get('crops_per_s_per_worker'), 0)} crops/s per worker; the fastest model "
            f"consumes {_f(ld.get('gpu_consumes_crops_per_s'), 0)}/s ({ld.get('workers_needed')} workers). "
            f"Sync check: {p.get('sync_check', {}).get('status')}."]
    return out


RENDER = {"targets": ("Targets", _targets), "build": ("Build", _build), "crops": ("Training crops", _crops),
          "training": ("Training loop", _training), "validation": ("Validation", _validation), "predict": ("Predicting offsets", _predict),
          "refine": ("Refinement", _refine), "eval": ("Evaluation", _eval), "faults": ("Faults", _faults),
          "ablation": ("Direction supervision ablation", _ablation), "gpu": ("GPU", _gpu)}


def render_results(results: dict) -> str:
    """RESULTS.md from the content of RESULTS.json."""
    b = results["benchmarks"]
    m = results["machine"]
    ran = [e for e in b.values() if e["status"] == "ran"]
    mode = ("**Quick run**: every script's smoke mode (`--quick`: small frames, few repeats); the figures "
            "show that the scripts run and the shape of their tables, not the speed at full size."
            if results["quick"] else "Full run: every script at its default size.")
    lines = [
        "# Benchmark results",
        "",
        "<!-- Written by python3 benchmarks/run_all.py from benchmarks/RESULTS.json; do not edit by hand "
        "(tests/benchmarks/test_run_all.py compares). -->",
        "",
        f"`{results['command']}`, {results['started_utc'].replace('T', ' ').replace('Z', ' UTC')} to "
        f"{results['finished_utc'].replace('T', ' ').replace('Z', ' UTC')}, commit "
        f"`{str(m.get('git_commit'))[:10]}`{' with uncommitted changes' if results.get('uncommitted_changes') else ''}, "
        f"on {machine_line(m)}. {mode} {len(ran)} of {len(b)} scripts ran; each table names the command, "
        "date, machine and commit of the run that made it.",
        "",
        "Every script runs its baseline in the same process, on the same inputs, pins threads, and writes its "
        "JSON to `benchmarks/results/`; this file holds only what that JSON gives. On a machine shared "
        "with other jobs, CPU time (`--cpu-time`: this process's CPU seconds) is the honest measure for "
        "single-threaded work: other jobs inflate wall time far more; the load averages are printed with "
        "each run.",
        "",
    ]
    for key in SECTIONS:
        title, fn = RENDER[key]
        lines += [f"## {title}", ""] + fn(b) + [""]
    return "\n".join(lines).rstrip() + "\n"


#: The scripts whose figures make the README's table.
README_SCRIPTS = ("bench_targets", "bench_build", "bench_loader", "bench_refine")


def _readme_rows(b: dict) -> list:
    rows = []
    t = (b.get("bench_targets") or {}).get("result")
    if t:
        h, w = t.get("size", ["?", "?"])
        s = t.get("summary", {})
        for case, what in (("semantic", f"semantic targets, {w}x{h} frame"),
                           ("semantic, dense", "the same, dense frame (~20% boundary)"),
                           ("instance", "instance targets")):
            v = s.get(case)
            if v:
                f = "cv2" if "cv2_ms" in v else "torch"
                base = "per-class scipy EDT + OpenCV `filter2D`" if f == "cv2" else "per-class scipy EDT + torch `conv2d`"
                rows.append([what, f"{v['ours_ms']:.1f} ms", f"{base}, {v[f + '_ms']:,.0f} ms", _x(v[f + "_ratio"])])
    p = (b.get("bench_build") or {}).get("result")
    if p:
        base = p.get("baseline", {})
        for cfg, what in (("images, raw tiles (default)", "build, PNG on disk -> shards, with images"),
                          ("no images", "build, targets only (what the authors' files hold)")):
            r = next((r for r in p.get("builds", []) if r["config"] == cfg and r["jobs"] == 1), None)
            if r:
                rows.append([what, f"{r['ms_per_frame']:.1f} ms/frame", f"authors' generator + `savemat`, "
                             f"{base.get('ms_per_frame', 0):,.0f} ms", _x(r["speedup_per_core"])])
    c = (b.get("bench_loader") or {}).get("result")
    if c:
        r = c.get("results", {})
        rows.append([f"{r.get('crop')}x{r.get('crop')} training crop", f"{r['ours_ms_per_crop']:.2f} ms",
                     f"PNG + `.mat` + encoding, {r['authors_ms_per_crop']:,.0f} ms", _x(r.get("speedup"))])
    f = (b.get("bench_refine") or {}).get("result")
    if f:
        h, w = f.get("frame", ["?", "?"])
        for r in f.get("rows", [])[:1] + _refine_rows(f, True):
            what = f"refine one {w}x{h} frame" if not r["task"].startswith("boundary F") else r["task"]
            base = "authors' one-hot `grid_sample`" if not r["task"].startswith("boundary F") else "per-class dilation (same scores)"
            rows.append([what, f"{r['ours_ms']:.2f} ms", f"{base}, {r['baseline_ms']:,.0f} ms", _x(r["ratio"])])
    return rows


def render_readme_table(results: dict) -> str:
    """The README's performance table (between the markers) from the content of RESULTS.json."""
    m = results["machine"]
    quick = " (quick run: smoke sizes, not the full-size figures)" if results["quick"] else ""
    b = results["benchmarks"]
    shown = [b[k] for k in README_SCRIPTS if (b.get(k) or {}).get("result")]
    if shown and all(e["status"] == "earlier run" for e in shown):  # kept from an earlier full run
        metas = {(_meta(e["result"]).get("time_utc", "?")[:10], str(_meta(e["result"]).get("git_commit"))[:10])
                 for e in shown}
        when = "; ".join(f"{d}, commit `{c}`" for d, c in sorted(metas))
        source = f"From an earlier `python3 benchmarks/run_all.py` (kept in `benchmarks/RESULTS.json`) on " \
                 f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, {when}{quick}"
    else:
        source = (f"From `{results['command']}` on {m.get('cpu', '?')}, {m.get('cores', '?')} cores, "
                  f"{results['started_utc'][:10]}, commit `{str(m.get('git_commit'))[:10]}`{quick}")
    lines = [TABLE_BEGIN, f"{source}; one thread, CPU time for the targets and the build, the baseline measured "
             "in the same run:", ""]
    rows = _readme_rows(results["benchmarks"])
    lines += _table(["what", "ours", "baseline (same run)", "ratio"], rows) if rows else ["*No figures in this run.*"]
    return "\n".join(lines + ["", TABLE_END])


def update_readme(text: str, table: str) -> str:
    """``text`` with the part between the table markers (markers included) replaced by ``table``."""
    pat = re.compile(re.escape(TABLE_BEGIN) + r".*?" + re.escape(TABLE_END), re.S)
    if not pat.search(text):
        raise SystemExit(f"run_all: README.md has no {TABLE_BEGIN!r} ... {TABLE_END!r} markers")
    return pat.sub(lambda _: table, text, count=1)


def _write_text(path: Path, text: str) -> None:
    from segfix_data.atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_texts(results: dict, md: Path = RESULTS_MD, readme: Path = README) -> None:
    """Write RESULTS.md and the README table (between its markers) from ``results``."""
    _write_text(md, render_results(results))
    _write_text(readme, update_readme(readme.read_text(), render_readme_table(results)))


def _shown_args(argv: list) -> list:
    """``argv`` without the output paths (they name no figure)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--results-dir", "--results-json", "--md", "--readme"):
            skip = True
        elif not a.startswith(("--results-dir=", "--results-json=", "--md=", "--readme=")):
            out.append(a)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every script's smoke run (a few minutes)")
    ap.add_argument("--only", default=None, help=f"comma-separated sections to run ({','.join(SECTIONS)}); "
                    "the others show the JSON benchmarks/results/ holds from earlier runs")
    ap.add_argument("--skip", default=None, help="comma-separated sections not to run")
    ap.add_argument("--gpu", action="store_true", help="run gpu_check.py without CUDA too (CPU smoke figures)")
    ap.add_argument("--ablation", action="store_true", help="also run ablation_direction.py (trains 9 models, ~40 min on 2 cores)")
    ap.add_argument("--render", action="store_true",
                    help="run nothing: regenerate RESULTS.md and the README table from RESULTS.json")
    ap.add_argument("--results-dir", default=str(RESULTS_DIR),
                    help="where the scripts write their JSON and earlier runs' JSON is found [benchmarks/results]")
    ap.add_argument("--results-json", default=str(RESULTS_JSON), help="[benchmarks/RESULTS.json]")
    ap.add_argument("--md", default=str(RESULTS_MD), help="[benchmarks/RESULTS.md]")
    ap.add_argument("--readme", default=str(README), help="[README.md]")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    path = Path(args.results_json)
    if args.render:
        results = json.loads(path.read_text())
    else:
        previous = json.loads(path.read_text()) if path.is_file() else None
        results = run(args, _shown_args(argv), previous)
        from segfix_data.atomic import atomic_write_json

        atomic_write_json(path, results)
    write_texts(results, Path(args.md), Path(args.readme))
    print(f"wrote {'' if args.render else str(path) + ', '}{args.md} and the table of {args.readme}")
    failed = [e["script"] for e in results["benchmarks"].values() if e["status"] == "failed"]
    if failed:
        print(f"run_all: failed: {', '.join(failed)} (output in benchmarks/results/run_all*.log)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
