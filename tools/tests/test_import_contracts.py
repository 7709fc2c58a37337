"""The project-wide cycle contract finds cycles, and only cycles."""

import subprocess
import sys
from pathlib import Path

from tools.import_contracts import _one_cycle, _strongly_connected

ROOT = Path(__file__).resolve().parents[2]


def test_a_cycle_across_packages_is_found_with_its_path():
    graph = {
        "a.admin": {"b.admin"},
        "b.admin": {"c.views"},
        "c.views": {"a.admin", "d.models"},
        "d.models": set(),
    }
    (component,) = _strongly_connected(graph)
    assert component == ["a.admin", "b.admin", "c.views"]
    assert _one_cycle(graph, component) == ["a.admin", "b.admin", "c.views", "a.admin"]


def test_a_graph_without_cycles_has_none():
    graph = {"a": {"b", "c"}, "b": {"c"}, "c": set()}
    assert _strongly_connected(graph) == []


def test_a_deep_chain_does_not_hit_the_recursion_limit():
    depth = sys.getrecursionlimit() * 2
    graph = {f"m{i}": {f"m{i + 1}"} for i in range(depth)} | {f"m{depth}": {"m0"}}
    (component,) = _strongly_connected(graph)
    assert len(component) == depth + 1


def test_the_project_keeps_its_import_contracts():
    """The same check as bin/test, so that a wrong-way import fails here too."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
