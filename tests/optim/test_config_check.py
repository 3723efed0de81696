"""A config's optimizer part is checked when the config is loaded.

Through ``tools/train.py``'s code (:func:`bocb_mm.cli.train.main`, which must fail before it
builds a data set: the configs here point at
a data root that does not exist, so reaching the data check would give another message) and
through the sweep's plan.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from mmengine.config import Config

from bocb_mm.cli.train import main as TRAIN
from bocb_mm.optim.config_check import OptimConfigError, check_optim_cfg, closest_zoo_types
from bocb_mm.sweep.plan import plan_grid

REPO = Path(__file__).resolve().parents[2]
ADAN = str(REPO / 'configs' / 'cifar100' / 'resnet50' / 'resnet50_adan_1xb100-200e_cifar100.py')
NO_DATA = ['train_dataloader.dataset.data_root=/nonexistent/cifar100']


def train_error(*args: str) -> str:
    with pytest.raises(SystemExit) as stop:
        TRAIN([ADAN, '--work-dir', '/nonexistent/work', *args])
    return str(stop.value)


def test_misspelled_optimizer_named_with_scope_and_closest_names() -> None:
    message = train_error('--cfg-options', 'optim_wrapper.optimizer.type=bocb_mm.Adann', *NO_DATA)
    assert message.startswith("error: optim_wrapper.optimizer.type='bocb_mm.Adann': no optimizer "
                              "of that name is registered in scope 'bocb_mm'")
    assert "closest known names: 'bocb_mm.Adan'" in message


def test_misspelled_wrapper_and_unscoped_optimizer() -> None:
    message = train_error('--cfg-options', 'optim_wrapper.type=OptimWraper', *NO_DATA)
    assert "optim_wrapper.type='OptimWraper': no optim wrapper of that name" in message
    assert "'OptimWrapper'" in message
    cfg = Config(dict(default_scope='mmpretrain',
                      optim_wrapper=dict(optimizer=dict(type='Adamw', lr=1e-3))))
    with pytest.raises(OptimConfigError, match=re.escape(
            "no optimizer of that name is registered in scope 'mmpretrain' or its parent "
            "'mmengine'; closest known names: 'AdamW'")):
        check_optim_cfg(cfg)
    assert closest_zoo_types('sophia') == ['bocb_mm.SophiaG']


def test_sweep_plan_rejects_misspelled_type(tmp_path: Path) -> None:
    config = tmp_path / 'typo.py'
    config.write_text(f"_base_ = ['{ADAN}']\n"
                      "optim_wrapper = dict(optimizer=dict(type='bocb_mm.Adann'))\n")
    with pytest.raises(OptimConfigError, match=re.escape(f"{config}: optim_wrapper.optimizer."
                                                         "type='bocb_mm.Adann'")):
        plan_grid([str(config)], str(tmp_path / 'runs'))


def test_number_as_string_names_the_key() -> None:
    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='AdamW', lr='0.1',
                                                        betas=('0.9', 0.999)))))
    with pytest.raises(OptimConfigError, match=re.escape(
            "optim_wrapper.optimizer.lr='0.1' is a string, not a number; write lr=0.1")):
        check_optim_cfg(cfg)
    cfg.optim_wrapper.optimizer.lr = 0.1
    with pytest.raises(OptimConfigError, match=re.escape('write betas=(0.9, 0.999)')):
        check_optim_cfg(cfg)


def test_keys_inherited_from_an_mmdet_base_are_named(tmp_path: Path) -> None:
    pytest.importorskip('mmdet')
    base = 'mmdet::_base_/schedules/schedule_1x.py'
    merged = tmp_path / 'lion_on_mmdet.py'
    merged.write_text(f"_base_ = ['{base}']\ncustom_imports = dict(imports=['bocb_mm'])\n"
                      "optim_wrapper = dict(optimizer=dict(type='bocb_mm.Lion', lr=1e-4, "
                      "weight_decay=0.05))\n")
    with pytest.raises(OptimConfigError) as err:
        check_optim_cfg(Config.fromfile(str(merged)))
    message = str(err.value)
    assert message.startswith('optim_wrapper.optimizer: bocb_mm.Lion takes no argument momentum')
    assert f"momentum come(s) from the base config ({base}, optimizer type 'SGD')" in message
    assert "optimizer=dict(_delete_=True, type='bocb_mm.Lion', ...)" in message

    replaced = tmp_path / 'lion_replaces_mmdet.py'
    replaced.write_text(merged.read_text().replace("dict(type='bocb_mm.Lion'",
                                                   "dict(_delete_=True, type='bocb_mm.Lion'"))
    cfg = Config.fromfile(str(replaced))
    check_optim_cfg(cfg)
    assert dict(cfg.optim_wrapper.optimizer) == dict(type='bocb_mm.Lion', lr=1e-4,
                                                     weight_decay=0.05)


def test_unknown_own_argument_gets_a_suggestion() -> None:
    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='bocb_mm.Lion', lr=1e-4,
                                                        betas1=0.9))))
    with pytest.raises(OptimConfigError, match='betas1: did you mean betas'):
        check_optim_cfg(cfg)
