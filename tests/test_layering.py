"""The library's folders keep to the data's path: read from the imports of every module (parsed, never run).

data/ is the path every real recording takes; the synthetic generator (synth/) is a tool that
makes data, so data/ never imports it; a lower folder never imports a later one; MLflow lives
in tracking/ only; and the generator's modules import each other in no circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

LIB = REPO / "src" / "brain_brr"
FORBIDDEN = {
    "data": ("brain_brr.synth", "brain_brr.train", "brain_brr.eval", "brain_brr.tracking", "mlflow"),
    "synth": ("brain_brr.train", "brain_brr.eval", "brain_brr.tracking", "mlflow"),
    "train": ("brain_brr.synth", "brain_brr.eval", "brain_brr.tracking", "mlflow"),
    "eval": ("brain_brr.synth", "brain_brr.tracking", "mlflow"),
}


def module_name(path: Path, lib: Path = LIB) -> str:
    parts = ("brain_brr", *path.relative_to(lib).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, package: str) -> list[tuple[int, str]]:
    """(line, name) of every import in ``source``, function-level ones included; ``from a import b`` gives a and a.b."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out += [(node.lineno, base)] + [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return out


def violations(folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        name = module_name(path, folder.parent)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for line, name in imports(path.read_text(), package):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(folder.parent)}:{line} imports {name}")
    return sorted(set(found))


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_folder_imports_nothing_later_on_the_path(folder):
    assert not violations(LIB / folder, FORBIDDEN[folder])


def test_the_check_sees_imports_in_functions_and_relative_ones(tmp_path):
    bad = tmp_path / "data"
    bad.mkdir()
    (bad / "a.py").write_text("def f():\n    from brain_brr.synth import render\n")
    (bad / "b.py").write_text("from brain_brr import synth\n")
    (bad / "c.py").write_text("import mlflow.pyfunc\n")
    (bad / "d.py").write_text("from brain_brr.data.channels import CHANNELS\n")
    assert [v.split(" imports ")[1] for v in violations(bad, FORBIDDEN["data"])] == [
        "brain_brr.synth",
        "brain_brr.synth.render",
        "brain_brr.synth",
        "mlflow.pyfunc",
    ]
    assert imports("from ..data import windows\n", "brain_brr.eval") == [
        (1, "brain_brr.data"),
        (1, "brain_brr.data.windows"),
    ]


def _graph(folder: Path) -> dict[str, set[str]]:
    """Module -> modules of ``folder`` it imports (a package's __init__ is no node: it only re-exports)."""
    paths = {module_name(p): p for p in folder.rglob("*.py") if p.name != "__init__.py"}
    return {
        name: {n for _, n in imports(path.read_text(), name.rpartition(".")[0]) if n in paths and n != name}
        for name, path in paths.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of ``graph`` (depth-first search), or []."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_the_generator_imports_in_no_circle():
    assert _cycle(_graph(LIB / "synth")) == []
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
