"""The ablation of the three defences, as DVC experiments on the default corpus.

    python scripts/ablation.py                 # 6 settings x 3 seeds, then the table
    python scripts/ablation.py --seeds 0       # quicker: one seed
    python scripts/ablation.py --table-only    # rebuild the table from results.csv
    python scripts/ablation.py --difficulty hard --settings defences unet augment unet+augment unet+augment+no_sampler

Settings joined with ``+`` combine their overrides (architecture x augmentation x defences).
``--difficulty hard`` runs every cell on the hard synthetic corpus (``synth.difficulty=hard``)
and keeps its results apart, in ``reports/ablation/hard/``.

Each cell is one `dvc exp run --temp -n abl-<setting>-s<seed> -S ...`: it runs in a
temporary copy of the repository (upstream stages come from the DVC cache, so only train
and evaluate run), so the workspace — params.yaml with any edits of yours, models/,
metrics/ — is never touched. Every setting runs with `guards.strict=false`, so flagged
settings run to the end and their red flags are recorded rather than stopping the grid.
Each cell's metrics are read back from the saved experiment (`dvc exp show --json`) and
appended to `reports/ablation/results.csv` (a rerun skips finished cells);
`reports/ablation/table.md` holds mean ± sd per setting. In MLflow every cell is one parent
run named after its experiment.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "ablation"
# The dvc beside this interpreter (the project's virtual environment), so an unactivated venv works too.
DVC = str(Path(sys.executable).with_name("dvc")) if Path(sys.executable).with_name("dvc").is_file() else "dvc"

SETTINGS: dict[str, tuple[str, list[str]]] = {
    "defences": ("all three defences (default)", []),
    "alpha_0.25": ("focal alpha 0.25, pos_weight off by the guard", ["focal_alpha=0.25"]),
    "bce": ("plain BCE with pos_weight, balanced sampler", ["loss=bce"]),
    "no_sampler": ("focal + pos_weight, shuffled batches", ["use_balanced_sampling=false"]),
    "pos_weight_none": ("focal + sampler, no pos_weight", ["pos_weight=none"]),
    "pos_weight_batches": ("focal + sampler, pos_weight from sampled batches", ["train.pos_weight_source=batches"]),
    "target_0.25": ("all three defences, sampler target 25% positives", ["sampler.target_pos_fraction=0.25"]),
    "unet": ("U-Net encoder + transformer (model.arch)", ["model.arch=unet_transformer"]),
    "augment": ("default augmentation set", ["augment.enabled=true"]),
    "no_defences": (
        "plain BCE, shuffled batches, no pos_weight",
        ["loss=bce", "use_balanced_sampling=false", "pos_weight=none"],
    ),
}


def setting_overrides(setting: str) -> tuple[str, list[str]]:
    """Label and ``-S`` overrides of a setting, or of several joined with ``+``."""
    parts = setting.split("+")
    unknown = [p for p in parts if p not in SETTINGS]
    if unknown:
        raise SystemExit(f"unknown setting(s) {unknown}; known: {', '.join(SETTINGS)} (combine with '+')")
    return " + ".join(SETTINGS[p][0] for p in parts), [o for p in parts for o in SETTINGS[p][1]]


COLUMNS = [
    "setting",
    "seed",
    "exit_code",
    "wall_s",
    "pos_weight_used",
    "val_auroc_first",
    "val_auroc_best",
    "eval_auroc",
    "eval_pr_auc",
    "sens_at_10fa",
    "sens_at_1fa",
    "ovlp_sensitivity",
    "fa_per_24h",
    "szcore_f1",
    "szcore_sens_10",
    "szcore_fp24_10",
    "szcore_sens_2.5",
    "szcore_fp24_2.5",
    "zero_pos_batches",
    "batch_pos_ratio_mean",
    "red_flags",
]


def run_cell(setting: str, seed: int, difficulty: str = "standard") -> dict:
    _, overrides = setting_overrides(setting)
    if difficulty != "standard":
        overrides = [f"synth.difficulty={difficulty}", *overrides]
    prefix = "abl" if difficulty == "standard" else f"abl-{difficulty}"
    name = f"{prefix}-{setting.replace('.', '').replace('+', '-')}-s{seed}"
    cmd = [DVC, "exp", "run", "--temp", "-n", name, "-S", "guards.strict=false", "-S", f"train.seed={seed}"]
    for o in overrides:
        cmd += ["-S", o]
    print(f"[ABLATION] dvc {' '.join(cmd[1:])}", flush=True)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - start
    (OUT / "logs").mkdir(parents=True, exist_ok=True)
    (OUT / "logs" / f"{name}.log").write_text(proc.stdout + proc.stderr)  # every difficulty's logs in one folder
    row = {"setting": setting, "seed": seed, "exit_code": proc.returncode, "wall_s": round(wall, 1)}
    if proc.returncode != 0:
        print(f"[ABLATION] {name} exited {proc.returncode}; see {OUT / 'logs' / (name + '.log')}", flush=True)
        return row
    metrics = experiment_metrics(name)
    train, ev = metrics["metrics/train.json"], metrics["metrics/eval.json"]
    row.update(
        pos_weight_used=train["pos_weight_used"],
        val_auroc_first=train["val_auroc_first"],
        val_auroc_best=train["val_auroc_best"],
        eval_auroc=ev["auroc"],
        eval_pr_auc=ev["pr_auc"],
        sens_at_10fa=ev["sens_at_fa"]["10"],
        sens_at_1fa=ev["sens_at_fa"]["1"],
        ovlp_sensitivity=ev["ovlp"]["sensitivity"],
        fa_per_24h=ev["ovlp"]["fa_per_24h"],
        szcore_f1=ev["szcore"]["f1"],
        **operating_point_columns(ev),
        zero_pos_batches=train["zero_pos_batches"],
        batch_pos_ratio_mean=train["batch_pos_ratio_mean"],
        red_flags=";".join(sorted(set(train["red_flags"]) | set(ev["red_flags"]))),
    )
    return row


def operating_point_columns(ev: dict) -> dict:
    """SzCORE event sensitivity and FP/24h on eval at the dev-chosen threshold of each FA target."""
    out = {}
    for target in ("10", "2.5"):
        op = (ev.get("operating_points") or {}).get(target)
        if op:
            out[f"szcore_sens_{target}"] = op["szcore"]["sensitivity"]
            out[f"szcore_fp24_{target}"] = op["szcore"]["fp_per_24h"]
    return out


def experiment_metrics(name: str) -> dict[str, dict]:
    """The metrics files of saved experiment ``name``, whole (lists such as red_flags included): {path: data}."""
    # DVC keeps each experiment under refs/exps/<baseline>/<name>: found even after the workspace's HEAD moved on.
    refs = subprocess.run(
        ["git", "for-each-ref", "--sort=-committerdate", "--format=%(refname) %(objectname)", "refs/exps"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    for line in refs:
        if line.split(" ")[0].endswith(f"/{name}"):
            rev = line.split(" ")[1]
            return {p: json.loads(_git_show(rev, p)) for p in ("metrics/train.json", "metrics/eval.json")}
    out = subprocess.run([DVC, "exp", "show", "--json"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for baseline in json.loads(out):
        for exp in baseline.get("experiments") or []:
            if exp.get("name") == name:
                rev = exp["revs"][0]
                files = rev["data"]["metrics"]  # DVC keeps numbers only: read the files from the experiment's commit
                return {path: json.loads(_git_show(rev["rev"], path)) for path in files}
    raise RuntimeError(f"experiment {name} not found in `dvc exp show --json`")


def _git_show(rev: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def read_results(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def append_result(path: Path, row: dict) -> None:
    rows = read_results(path)
    if rows and list(rows[0]) != COLUMNS:  # written by an older version of this script: rewrite with today's columns
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows({k: r.get(k, "") for k in COLUMNS} for r in rows)
    new = not path.is_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            w.writeheader()
        w.writerow({k: row.get(k, "") for k in COLUMNS})


def _fmt(values: list[float], digits: int = 3) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def table(rows: list[dict]) -> str:
    metrics = [
        ("val AUROC first", "val_auroc_first", 3),
        ("val AUROC best", "val_auroc_best", 3),
        ("eval AUROC", "eval_auroc", 3),
        ("sens @10 FA/24h (eval sweep)", "sens_at_10fa", 2),
        ("SzCORE sens, 10 FP/24h target", "szcore_sens_10", 2),
        ("its FP/24h", "szcore_fp24_10", 1),
        ("SzCORE sens, 2.5 FP/24h target", "szcore_sens_2.5", 2),
        ("its FP/24h", "szcore_fp24_2.5", 1),
        ("zero-pos batches", "zero_pos_batches", 0),
    ]
    lines = [
        "| setting | seeds | " + " | ".join(m[0] for m in metrics) + " | red flags |",
        "|---" * (len(metrics) + 3) + "|",
    ]
    for setting in dict.fromkeys(r["setting"] for r in rows):
        label, _ = setting_overrides(setting)
        cells = [r for r in rows if r["setting"] == setting and str(r["exit_code"]) == "0"]
        if not cells:
            continue
        vals = [_fmt([float(r[key]) for r in cells if r.get(key) not in ("", None)], d) for _, key, d in metrics]
        flags = sorted({f for r in cells for f in str(r["red_flags"]).split(";") if f})
        lines.append(
            f"| {setting}: {label} | {len(cells)} | " + " | ".join(vals) + f" | {', '.join(flags) or 'none'} |"
        )
    winner = dev_winner(rows)
    if winner:
        lines.append(
            "\nBest on dev (mean val AUROC best, among settings that keep the three defences): "
            f"**{winner[0]}** ({winner[1]:.3f})"
        )
    return "\n".join(lines) + "\n"


def dev_winner(rows: list[dict]) -> tuple[str, float] | None:
    """The setting with the highest mean dev (validation) AUROC among those that keep the three defences.

    Eval never decides; a setting trained without the defences (its red flags say so) is not a candidate.
    """
    best = None
    for setting in dict.fromkeys(r["setting"] for r in rows):
        cells = [r for r in rows if r["setting"] == setting and str(r["exit_code"]) == "0"]
        if not cells or any("trained_without_defences" in str(r["red_flags"]) for r in cells):
            continue
        dev = statistics.mean(float(r["val_auroc_best"]) for r in cells)
        if best is None or dev > best[1]:
            best = (setting, dev)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS)[:7], help="names of SETTINGS, combined with '+'")
    ap.add_argument("--difficulty", choices=("standard", "hard"), default="standard", help="synth.difficulty")
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args()
    for setting in args.settings:
        setting_overrides(setting)  # unknown names fail before any run
    out = OUT if args.difficulty == "standard" else OUT / args.difficulty
    results = out / "results.csv"
    if not args.table_only:
        done = {(r["setting"], int(r["seed"])) for r in read_results(results) if str(r["exit_code"]) == "0"}
        for seed in args.seeds:
            for setting in args.settings:
                if (setting, seed) in done:
                    continue
                row = run_cell(setting, seed, args.difficulty)
                append_result(results, row)
                print(
                    f"[ABLATION] {setting} seed {seed}: "
                    + ", ".join(f"{k}={row.get(k)}" for k in ("eval_auroc", "sens_at_10fa", "red_flags")),
                    flush=True,
                )
    md = table(read_results(results))
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
