"""The three defences and the red-flag rules, as pure functions; `brain-brr check` prints the same verdict."""

from __future__ import annotations

import math

import pytest

from brain_brr import guards
from brain_brr.cli import main
from brain_brr.config import load_params, parse_params
from tests.conftest import REPO


def test_repository_params_hold_all_three_defences():
    params = load_params(REPO / "params.yaml")
    assert all(d.holds for d in guards.defences(params))
    assert guards.configuration_flags(params) == []
    assert all(guards.configuration_checklist(params).values())


@pytest.mark.parametrize(
    ("raw", "flags", "off"),
    [
        ({"focal_alpha": 0.25}, ["focal_alpha_not_neutral"], {"focal_loss", "pos_weight"}),
        ({"loss": "bce"}, ["loss_not_focal"], {"focal_loss"}),
        ({"use_balanced_sampling": False}, ["balanced_sampling_off"], {"balanced_sampling"}),
        ({"pos_weight": "none"}, ["pos_weight_off"], {"pos_weight"}),
        (
            {"loss": "bce", "use_balanced_sampling": False, "pos_weight": None},
            ["loss_not_focal", "balanced_sampling_off", "pos_weight_off"],
            {"focal_loss", "balanced_sampling", "pos_weight"},
        ),
    ],
)
def test_one_definition_gives_verdict_and_flags(raw, flags, off):
    params = parse_params(raw)
    assert [name for name, _ in guards.configuration_flags(params)] == flags
    assert {d.name for d in guards.defences(params) if not d.holds} == off


def test_double_count_guard():
    alpha = parse_params({"focal_alpha": 0.25})
    assert not alpha.pos_weight_reaches_loss() and not guards.configuration_checklist(alpha)["pos_weight_used"]
    assert parse_params({"loss": "bce"}).pos_weight_reaches_loss()


def test_epoch_flags():
    g = parse_params({}).guards
    kw = {"n_batches": 10, "per_rank_batch": 32}
    assert guards.epoch_flags(g, epoch=1, zero_pos=0, batch_pos_ratio_mean=0.25, val_auroc=0.9, **kw) == []
    names = [n for n, _ in guards.epoch_flags(g, epoch=1, zero_pos=2, batch_pos_ratio_mean=0.05, val_auroc=0.52, **kw)]
    assert names == ["zero_positive_batch", "low_batch_pos_ratio", "auroc_collapse"]
    assert [
        n for n, _ in guards.epoch_flags(g, epoch=1, zero_pos=0, batch_pos_ratio_mean=None, val_auroc=math.nan, **kw)
    ] == ["auroc_collapse"]
    assert (
        guards.epoch_flags(g, epoch=2, zero_pos=0, batch_pos_ratio_mean=0.3, val_auroc=0.5, **kw) == []
    )  # only the first epoch
    assert [n for n, _ in guards.best_model_flags(0.49)] == ["all_predictions_zero"] and guards.best_model_flags(
        0.5
    ) == []


def test_check_command_exit_codes(tmp_path, capsys):
    assert main(["check", "--params", str(REPO / "params.yaml")]) == 0
    assert "All three defences hold." in capsys.readouterr().out
    bad = tmp_path / "p.yaml"
    bad.write_text("use_balanced_sampling: false\n")
    assert main(["check", "--params", str(bad)]) == 1
    assert "[BAD] balanced_sampling" in capsys.readouterr().out
    bad.write_text("focal_alfa: 0.5\n")
    assert main(["check", "--params", str(bad)]) == 2
    assert "did you mean 'focal_alpha'" in capsys.readouterr().err
