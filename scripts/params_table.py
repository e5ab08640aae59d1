"""Which DVC stages each key of params.yaml makes stale: measured with `dvc status`, written to docs/params.md.

For every key of params.yaml, a scratch git + DVC repository holding this dvc.yaml (every dependency
and output a small placeholder, the lock recorded with `dvc commit`) gets params.yaml with that one
key changed, and DVC says which stages are stale. tests/test_params_staleness.py runs the same
measurement and checks the page against it; regenerate the page after editing dvc.yaml:

    python scripts/params_table.py            # rewrites docs/params.md
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from brain_brr.config import flatten

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "params.md"


# Keys whose other value must have a shape dvc.yaml can use (eval.external feeds a `foreach`).
OTHER_VALUES = {"eval.external": [{"name": "other-center", "root": "data/other"}]}


def changed(key: str, value: Any) -> Any:
    """Another value of the same kind (DVC compares values; they need not be valid for the schema)."""
    if key in OTHER_VALUES:
        return OTHER_VALUES[key] if value != OTHER_VALUES[key] else []
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, list):
        return [*value, 7]
    return f"{value}-changed" if value is not None else "changed"


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree[part]
    tree[leaf] = value


def _placeholders(scratch: Path, stages: dict[str, Any], params: dict[str, Any]) -> None:
    """Every dependency and output of dvc.yaml as a small file (a folder where the repository has one)."""
    root = flatten(params)["data.root"]
    for stage in stages.values():
        for entry in [
            *stage.get("deps", []),
            *(o for kind in ("outs", "metrics", "plots") for o in stage.get(kind, [])),
        ]:
            rel = (next(iter(entry)) if isinstance(entry, dict) else entry).replace("${data.root}", root)
            path = scratch / rel
            if (REPO / rel).is_dir() or not Path(rel).suffix:
                path.mkdir(parents=True, exist_ok=True)
                (path / "placeholder").write_text(rel)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(rel)


def stale_stages(scratch: Path) -> list[str]:
    from dvc.repo import Repo

    with Repo(str(scratch)) as repo:
        return sorted(name.rsplit(":", 1)[-1] for name in repo.status())  # "<path>/dvc.yaml:<stage>" -> stage


def measure() -> dict[str, list[str]]:
    """Dotted key -> the stages `dvc status` reports stale after changing that key alone."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        (scratch / "dvc.yaml").write_text((REPO / "dvc.yaml").read_text())
        (scratch / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        _placeholders(scratch, stages, params)
        dvc = [sys.executable, "-m", "dvc"]  # this environment's DVC, on PATH or not
        for cmd in (["git", "init", "-q"], [*dvc, "init", "-q"], [*dvc, "commit", "-f", "-q"]):
            subprocess.run(cmd, cwd=scratch, check=True)
        assert stale_stages(scratch) == [], "the scratch repository should start up to date"
        table = {}
        for key, value in flatten(params).items():
            edited = yaml.safe_load(yaml.safe_dump(params))
            _set(edited, key, changed(key, value))
            (scratch / "params.yaml").write_text(yaml.safe_dump(edited, sort_keys=False))
            table[key] = stale_stages(scratch)
        return table


def render(table: dict[str, list[str]], order: list[str]) -> str:
    lines = [
        "# Which stages a change of params.yaml reruns",
        "",
        "Each DVC stage lists under `params:` the keys that can change its outputs, and only those.",
        "Keys that say how fast, where or how patiently (`data.workers`, `train.num_workers`, `mlflow.*`)",
        "are under no stage but `validate`, which reads the whole file to catch a misspelt key and writes",
        "a constant output, so nothing after it reruns. A stage downstream of a rerun stage reruns too when",
        "that stage's outputs change (for example `evaluate` after `train`).",
        "",
        "Measured, not written by hand: `python scripts/params_table.py` changes each key alone in a scratch",
        "copy of the pipeline and asks `dvc status`; `tests/test_params_staleness.py` checks this page against it.",
        "",
        "| key | stages made stale (besides `validate`) |",
        "|---|---|",
    ]
    for key, stale in table.items():
        named = {s.split("@")[0] for s in stale}  # a `foreach` stage's instances: "external@0" -> "external"
        rest = [s for s in order if s in named and s != "validate"]
        lines.append(f"| `{key}` | {', '.join(f'`{s}`' for s in rest) or 'none'} |")
    return "\n".join(lines) + "\n"


def stage_order() -> list[str]:
    return list(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=PAGE)
    args = parser.parse_args(argv)
    args.out.write_text(render(measure(), stage_order()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
