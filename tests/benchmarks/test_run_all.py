"""``benchmarks/run_all.py``: RESULTS.md and the README table are what RESULTS.json gives, and a run
writes both (no timing is asserted)."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.support.paths import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import run_all  # noqa: E402


def test_results_md_and_the_readme_table_are_rendered_from_results_json():
    results = json.loads(run_all.RESULTS_JSON.read_text())
    assert run_all.RESULTS_MD.read_text() == run_all.render_results(results), \
        "benchmarks/RESULTS.md differs from RESULTS.json: run python3 benchmarks/run_all.py --render"
    readme = run_all.README.read_text()
    assert readme.count(run_all.TABLE_BEGIN) == 1
    assert run_all.render_readme_table(results) in readme, \
        "README.md's results table differs from RESULTS.json: run python3 benchmarks/run_all.py --render"
    shown = [results["benchmarks"][k] for k in ("bench_targets", "bench_build", "bench_refine")]
    assert all(e["result"] for e in shown)
    assert len({e["status"] for e in shown}) == 1  # the README's rows: one run (this one or one kept)
    assert len({run_all._meta(e["result"])["git_commit"] for e in shown}) == 1


def test_a_run_writes_its_json_and_both_texts_and_says_what_did_not_run(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{run_all.TABLE_BEGIN}\nstale figures\n{run_all.TABLE_END}\n\nrest\n")
    out = {"--results-dir": tmp_path / "results", "--results-json": tmp_path / "R.json",
           "--md": tmp_path / "R.md", "--readme": readme}
    proc = subprocess.run([sys.executable, "benchmarks/run_all.py", "--quick", "--only", "refine",
                           *[str(x) for kv in out.items() for x in kv]],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "R.json").read_text())
    assert results["command"] == "python3 benchmarks/run_all.py --quick --only refine"
    entry = results["benchmarks"]["bench_refine"]
    assert entry["status"] == "ran" and entry["result"]["rows"]
    assert (tmp_path / "results" / "bench_refine_quick.json").is_file()
    assert results["benchmarks"]["bench_build"]["status"] == "not run"
    md = (tmp_path / "R.md").read_text()
    assert md == run_all.render_results(results)
    assert "**Quick run**" in md
    section = md[md.index("## Refinement"):md.index("## Evaluation")]
    first = entry["result"]["rows"][0]  # its figures, as the JSON gives them
    assert f"| {first['task']} | {first['ours_ms']:.2f} | {first['baseline_ms']:.2f} |" in section
    assert "`python3 benchmarks/bench_build.py --quick --cpu-time`: not run on this machine" in md
    assert "`python3 benchmarks/gpu_check.py`: not run on this machine" in md
    text = readme.read_text()
    assert text.startswith("intro\n\n") and text.endswith("\n\nrest\n") and "stale figures" not in text
    assert "refine one 512x256 frame" in text


def test_a_failed_script_is_named_in_its_section_not_hidden():
    results = json.loads(run_all.RESULTS_JSON.read_text())
    results["benchmarks"]["bench_loader"] = {"script": "bench_loader.py", "command": "python3 benchmarks/bench_loader.py",
                                             "seconds": 1.0, "status": "failed", "result": None,
                                             "error": "exit status 1: ValueError: boom"}
    md = run_all.render_results(results)
    crops = md[md.index("## Training crops"):md.index("## Training loop")]
    assert "failed in this run (exit status 1: ValueError: boom)" in crops and "| ours" not in crops


def test_every_fault_row_is_in_results_md_with_its_exit_status_and_peak_ratio():
    results = json.loads(run_all.RESULTS_JSON.read_text())
    md = run_all.RESULTS_MD.read_text()
    faults = md[md.index("## Faults"):md.index("## Direction supervision ablation")]
    res = results["benchmarks"]["fault_injection"]["result"]["results"]
    rows = [r for g in res["hostile"]["groups"] for r in g["rows"]]
    assert rows and res["train_predict"]
    for r in rows:
        ratio = run_all._x(r["peak_ratio"]) if "peak_ratio" in r else "-"
        rc = "-" if r["rc"] is None else str(r["rc"]) + (" (timed out)" if r.get("timed_out") else "")
        assert f"| {r['case']} | {'yes' if r['handled'] else '**no**'} | {rc} | {ratio} |" in faults, r["case"]
    for t in res["train_predict"]:
        assert f"| {t['row']} | {t['handled']}/{t['cases']} |" in faults, t["row"]


def test_a_section_not_rerun_keeps_the_figures_of_the_results_json_it_replaces(tmp_path):
    bench = next(b for b in run_all.BENCHES if b.name == "bench_refine")
    previous = {"quick": False, "benchmarks": {"bench_refine": {
        "script": "bench_refine.py", "command": run_all.command_line(bench, False), "status": "ran",
        "seconds": 3.0, "result": {"rows": [{"task": "t", "ours_ms": 1.0, "baseline_ms": 2.0, "ratio": 2.0}]}}}}
    entry = run_all.earlier_entry(bench, False, tmp_path, previous)
    assert entry["status"] == "earlier run" and entry["result"] == previous["benchmarks"]["bench_refine"]["result"]
    assert run_all.earlier_entry(bench, True, tmp_path, previous)["status"] == "not run"  # not a quick run's
    previous["benchmarks"]["bench_refine"]["command"] += " --repeats 9"  # made by another command
    assert run_all.earlier_entry(bench, False, tmp_path, previous)["status"] == "not run"
