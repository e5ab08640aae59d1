import pytest

from brain_brr.config import load_params, parse_params
from brain_brr.errors import ConfigError
from tests.conftest import REPO


def test_repository_params_are_valid():
    load_params(REPO / "params.yaml")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"focal_alfa": 0.5}, "unknown key 'focal_alfa': did you mean 'focal_alpha'?"),
        ({"data": {"windw_s": 60}}, "unknown key 'data.windw_s': did you mean 'data.window_s'?"),
        ({"focal_alpha": 1.5}, "focal_alpha=1.5"),
        ({"focal_gamma": -1}, "focal_gamma=-1"),
        ({"data": {"window_s": 10, "stride_s": 20}}, "stride_s=20 is larger than data.window_s=10"),
        ({"pos_weight": "sometimes"}, "pos_weight='sometimes'"),
        ({"loss": "mse"}, "loss='mse'"),
    ],
)
def test_bad_params_name_the_key(raw, expected):
    with pytest.raises(ConfigError) as exc:
        parse_params(raw)
    assert any(expected in line for line in exc.value.lines), exc.value.lines


def test_pos_weight_forms():
    assert parse_params({"pos_weight": 3}).pos_weight == 3.0
    assert parse_params({"pos_weight": None}).pos_weight == "none"
    assert parse_params({"pos_weight": "AUTO"}).pos_weight == "auto"
