"""The import contract of docs/architecture.md, enforced on every module.

The "may import" column of the architecture map's table is parsed here and every ``import`` of
``segfix_data``, ``segfix_train`` and ``cli`` (top level and inside functions, relative imports
resolved) is checked against it, naming the offending ``file:line``. Standard-library modules are
always allowed. The runtime check that importing every ``segfix_data`` module loads no torch (not
even indirectly) stays beside it.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path


from tests.support.paths import REPO as ROOT

PACKAGES = ("segfix_data", "segfix_train", "cli")


# ----------------------------------------------------------------------------- the table


def contract_table(doc: str) -> dict[str, set[str]]:
    """Room -> the rooms and third-party top-level modules it may import, from the map's table.

    A row's first cell names its rooms as backticked paths (``segfix_data/targets/``, or
    ``segfix_data/atomic.py`` followed by ``interop.py`` in the same folder); the "may import"
    cell is a comma-separated list: backticked names are rooms (``targets`` = ``segfix_data.targets``,
    ``segfix_data`` = every room of it), plain names third-party modules.
    """
    section = doc.split("## Who owns what", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        rooms, folder = [], ""
        for path in re.findall(r"`([^`]+)`", cells[0]):
            path = path.rstrip("/")
            if "/" in path:
                folder = path.rsplit("/", 1)[0] if path.endswith(".py") else path.split("/", 1)[0]
            elif folder:
                path = f"{folder}/{path}"
            rooms.append(path.removesuffix("/__init__.py").removesuffix(".py").replace("/", "."))
        allowed = set()
        for token in cells[2].split(","):
            token = token.strip()
            name = token.strip("`")
            if name in ("", "-"):  # "-": the standard library only
                continue
            if token.startswith("`") and name not in PACKAGES:
                name = f"segfix_data.{name}"
            allowed.add(name)
        for room in rooms:
            table[room] = allowed
    return table


TABLE = contract_table((ROOT / "docs" / "architecture.md").read_text())


def test_table_names_every_room():
    rooms = {"segfix_data", "segfix_train", "cli"}
    for p in (ROOT / "segfix_data").iterdir():
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__"):
            rooms.add(f"segfix_data.{p.stem}")
    assert set(TABLE) == rooms, "docs/architecture.md's table and the code's rooms differ"
    assert "torch" not in set().union(*(v for k, v in TABLE.items() if k.startswith("segfix_data")))


# ----------------------------------------------------------------------------- the imports


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    p = ROOT.joinpath(*dotted.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def imports_of(path: Path):
    """``(line, imported module, names)`` for every import statement of a file, at any depth."""
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names = tuple(a.name for a in node.names)
            subs = [n for n in names if _is_module(f"{target}.{n}")]
            for n in subs:  # `from segfix_data import datasets` imports the room datasets
                yield node.lineno, f"{target}.{n}", ()
            if len(subs) < len(names):
                yield node.lineno, target, tuple(n for n in names if n not in subs)


def room_of(dotted: str) -> str:
    parts = dotted.split(".")
    if parts[0] == "segfix_data" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def violations(table: dict[str, set[str]], files) -> list[str]:
    out = []
    for path in files:
        room = room_of(module_name(path))
        allowed = set(table[room])
        if "segfix_data" in allowed:
            allowed |= {r for r in table if r.startswith("segfix_data")}
        for line, target, names in imports_of(path):
            where = f"{path.relative_to(ROOT)}:{line}: {room} imports {target}"
            other = room_of(target)
            top = target.split(".")[0]
            if other == room or top in sys.stdlib_module_names:
                continue
            if target == "segfix_data" and room.startswith("segfix_data"):
                # the package root defines nothing (``__version__`` included): every name there
                # is a re-export, imported from the room that defines it
                out.append(f"{where} ({', '.join(names)}): import from the room that defines it")
            elif top in PACKAGES or top in ("tests", "benchmarks"):
                if other not in allowed:
                    out.append(f"{where}, not in its 'may import' list of docs/architecture.md")
                private = [n for n in target.split(".") + list(names) if _private(n)]
                if private:
                    out.append(f"{where} ({', '.join(private)}): private to {other}; make it public there")
            elif top not in allowed:
                out.append(f"{where}, not in its 'may import' list of docs/architecture.md")
    return out


def source_files():
    return [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]


def test_every_import_follows_the_architecture_table():
    files = source_files()
    assert len(files) > 80
    problems = violations(TABLE, files)
    assert not problems, "\n".join(problems)


def test_a_planted_in_function_import_is_caught(tmp_path, monkeypatch):
    # the checker itself can fail: an import hidden in a function, relative or absolute
    fake = tmp_path / "segfix_data" / "targets" / "planted.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("def f():\n    from ..shards import ShardSet\n    import torch\n"
                    "    from segfix_data.datasets.io import _pyspng\n    return ShardSet, torch, _pyspng\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "segfix_data" / "shards").mkdir()
    (tmp_path / "segfix_data" / "shards" / "__init__.py").write_text("")
    problems = violations(TABLE, [fake])
    assert [p.split(": ", 1)[0] for p in problems] == ["segfix_data/targets/planted.py:2",
                                                       "segfix_data/targets/planted.py:3",
                                                       "segfix_data/targets/planted.py:4",
                                                       "segfix_data/targets/planted.py:4"]
    assert "segfix_data.targets imports segfix_data.shards" in problems[0]
    assert "(_pyspng): private to segfix_data.datasets" in problems[3]


# ----------------------------------------------------------------------------- no torch at run time


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
