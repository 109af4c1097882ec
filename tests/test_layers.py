"""The package's architecture, enforced rather than hoped for: its layers import one way (import-linter's
contract in pyproject.toml: app -> engine -> steps -> cards | ml | data -> core), and no module of
recipe_assets reaches itself through its imports. grimp, which import-linter uses, counts every import: at
module level, inside functions and under TYPE_CHECKING."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]


def test_the_layers_contract_holds():
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def import_cycles(package: str) -> list[list[str]]:
    """One chain per direct import that the imported module leads back from."""
    graph = grimp.build_graph(package, cache_dir=None)
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if imported != importer and graph.chain_exists(imported, importer):
                cycles.append([importer, *graph.find_shortest_chain(imported, importer)])
    return cycles


def test_no_module_of_the_package_imports_itself_back():
    assert import_cycles("recipe_assets") == []


def test_the_cycle_check_finds_a_cycle(tmp_path: Path, monkeypatch):
    """The check above can fail: a two-module circle through a function-level import is found."""
    package = tmp_path / "circle_demo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circle_demo import b\n")
    (package / "b.py").write_text("def later():\n    from circle_demo import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("circle_demo") == [["circle_demo.a", "circle_demo.b", "circle_demo.a"], ["circle_demo.b", "circle_demo.a", "circle_demo.b"]]
