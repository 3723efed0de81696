"""TrainOptions: the one description of a run that tools/train.py parses, the subprocess executor
writes back, and the in-process executor passes on (bocb_mm.training)."""
from __future__ import annotations

import subprocess
import sys

import pytest
from mmengine.config import Config

from bocb_mm.cli.train import parse_args
from bocb_mm.training import TrainOptions, build_config

CIFAR = 'configs/cifar100/resnet50/resnet50_adamw_1xb100-200e_cifar100.py'

EVERY_OPTION = TrainOptions(
    work_dir='w d', resume='auto', seed=3, amp='bf16', compile='max-autotune',
    channels_last=True, trim_convs=True, cudnn_benchmark=True, gpu_data=True,
    auto_scale_lr=True, validate=False, launcher='pytorch',
    cfg_options={'a.b': 1, 'lr': 2.5e-4, 'c': [1, 2.5, 'x'], 'd': (3,), 'e': True, 'f': None,
                 'g': 'name', 'h': [[1, 2], (3, 4)]})


@pytest.mark.parametrize('options', [
    TrainOptions(), EVERY_OPTION, TrainOptions(resume='/ckpt/epoch_3.pth', amp='fp16'),
    TrainOptions(compile='default', validate=True, stop_signal='USR1')],
    ids=['defaults', 'every', 'path', 'const'])
def test_argv_round_trip(options: TrainOptions) -> None:
    argv = ['c.py', *options.to_argv()]
    assert TrainOptions.from_namespace(parse_args(argv)) == options
    assert TrainOptions.from_argv(options.to_argv()) == options


def test_every_flag_of_tools_train_py_is_an_option() -> None:
    """A flag added to the parser but not to TrainOptions would be dropped by the sweep."""
    import argparse

    from bocb_mm.training import add_arguments
    parser = add_arguments(argparse.ArgumentParser())
    dests = {a.dest for a in parser._actions if a.dest != 'help'}
    fields = set(TrainOptions.__dataclass_fields__)
    assert dests - {'no_validate'} | {'validate'} == fields


@pytest.mark.parametrize('kwargs, match', [
    (dict(amp='fp8'), 'amp must be one of fp16, bf16'),
    (dict(compile='fast'), 'compile must be one of'),
    (dict(launcher='pbs'), 'launcher must be one of'),
])
def test_bad_options_are_named(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrainOptions(**kwargs)


def test_a_seed_must_be_an_int() -> None:
    with pytest.raises(TypeError, match='seed must be an int'):
        TrainOptions(seed='3')


@pytest.mark.parametrize('value', ['1', 'True', 'a,b', {'x': 1}, 'two words'])
def test_overrides_without_a_command_line_form_are_refused(value) -> None:
    with pytest.raises(ValueError, match='has no --cfg-options form'):
        TrainOptions(cfg_options={'key': value}).to_argv()


def test_options_are_hashable_and_frozen() -> None:
    assert hash(EVERY_OPTION) == hash(EVERY_OPTION.replace())
    with pytest.raises(AttributeError):
        EVERY_OPTION.seed = 4


def test_build_config_applies_the_options_in_mmpretrain_order(tmp_path) -> None:
    options = TrainOptions(work_dir=str(tmp_path), seed=7, resume='auto', validate=False,
                           amp='bf16', cfg_options={'optim_wrapper.optimizer.lr': 0.5,
                                                    'randomness.seed': 9})
    cfg = build_config(CIFAR, options)
    assert cfg.work_dir == str(tmp_path)
    assert cfg.randomness.seed == 9  # cfg_options come after the seed
    assert cfg.optim_wrapper.optimizer.lr == 0.5
    assert cfg.optim_wrapper.type.startswith('bocb_mm.') and 'BF16' in cfg.optim_wrapper.type
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.val_cfg is None and cfg.val_dataloader is None
    default = build_config(Config.fromfile(CIFAR), TrainOptions())
    assert default.work_dir == './work_dirs/resnet50_adamw_1xb100-200e_cifar100'


def test_options_module_imports_no_torch() -> None:
    """Planning a grid reads TrainOptions without loading the training stack."""
    code = ('import sys, importlib.util\n'
            'spec = importlib.util.spec_from_file_location("o", "bocb_mm/training/options.py")\n'
            'mod = importlib.util.module_from_spec(spec); sys.modules["o"] = mod\n'
            'spec.loader.exec_module(mod)\n'
            'mod.TrainOptions(seed=1).to_argv()\n'
            'assert "torch" not in sys.modules and "mmengine" not in sys.modules\n')
    subprocess.run([sys.executable, '-c', code], check=True, timeout=120)
