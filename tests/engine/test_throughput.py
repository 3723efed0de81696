"""Throughput options (``tools/train.py --gpu-data --compile --channels-last --amp bf16``) on CPU.

Real runs of shipped configs through ``tools/train.py`` on a tiny generated CIFAR-100: the GPU
data path trains the R-50 (32 px) and DeiT-S (224 px RandAugment + Mixup / CutMix) recipes; a
compiled run gives the eager run's losses; bf16 autocast stays within noise of fp32.
"""
from __future__ import annotations

import os.path as osp

import pytest
import torch

pytest.importorskip('mmpretrain')
from helpers import (REPO, SMALL, assert_trained, cifar100_config,  # noqa: E402
                     data_options, deterministic_config, scalars, train)
from mmengine.config import Config  # noqa: E402

from bocb_mm.datasets import random_cifar  # noqa: E402
from bocb_mm.engine.amp import enable_amp  # noqa: E402
from bocb_mm.engine.throughput import apply_throughput_options  # noqa: E402


@pytest.fixture(autouse=True)
def _cached_config_text(cached_config_text: None) -> None:
    """``Config.pretty_text`` once per config (tests/conftest.py); one thread: engine/conftest."""


@pytest.fixture(scope='module')
def tiny_cifar(tmp_path_factory) -> str:
    """A generated CIFAR-100 of 40 training and 20 test images."""
    root = str(tmp_path_factory.mktemp('cifar100_tiny'))
    random_cifar(root, num_train=40, num_test=20)
    return root


def losses(work_dir: str) -> list[float]:
    return [row['loss'] for row in scalars(work_dir) if 'loss' in row]


# ----------------------------------------------------------------------------- config rewrites
def test_options_rewrite_the_config():
    cfg = Config.fromfile(cifar100_config('R-50', 'AdamW'))
    apply_throughput_options(cfg, compile='reduce-overhead', channels_last=True, amp='bf16',
                             cudnn_benchmark=True, gpu_data=True, step_timer=True,
                             trim_convs=True)
    assert cfg.compile == dict(mode='reduce-overhead')
    assert cfg.optim_wrapper.type == 'bocb_mm.BF16OptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    assert cfg.env_cfg.cudnn_benchmark is True
    assert [h['type'] for h in cfg.custom_hooks][-4:] == [
        'bocb_mm.EagerStepHook', 'bocb_mm.ChannelsLastHook', 'bocb_mm.TrimPaddedConvsHook',
        'bocb_mm.StepTimerHook']
    assert cfg.data_preprocessor.type == 'bocb_mm.GPUAugDataPreprocessor'
    assert [t['type'] for t in cfg.data_preprocessor.train_augments] == ['RandomCrop',
                                                                         'RandomFlip']
    assert cfg.train_dataloader.dataset.pipeline == [dict(type='PackInputs')]
    assert cfg.train_dataloader.collate_fn == dict(type='default_collate')
    assert apply_throughput_options(Config(dict(compile=None)), compile='default').compile is True
    with pytest.raises(ValueError, match='unknown mode'):
        apply_throughput_options(cfg, compile='fastest')


@pytest.mark.parametrize('wrapper,bf16,fp16', [
    ('OptimWrapper', 'bocb_mm.BF16OptimWrapper', 'AmpOptimWrapper'),
    ('bocb_mm.SophiaOptimWrapper', 'bocb_mm.SophiaBF16OptimWrapper',
     'bocb_mm.SophiaAmpOptimWrapper'),
])
def test_amp_twins(wrapper, bf16, fp16):
    assert enable_amp(dict(type=wrapper), 'bf16')['type'] == bf16
    amp = enable_amp(dict(type=wrapper))
    assert amp['type'] == fp16 and amp['loss_scale'] == 'dynamic'
    with pytest.raises(ValueError, match='bf16 form'):
        enable_amp(dict(type='bocb_mm.StatsOptimWrapper'), 'bf16')
    with pytest.raises(ValueError, match='unknown dtype'):
        enable_amp(dict(type=wrapper), 'fp8')


@pytest.mark.parametrize('backbone', ['R-50', 'DeiT-S', 'CNX-T', 'Eff-B0'])
def test_every_cifar_recipe_has_a_gpu_data_path(backbone):
    cfg = Config.fromfile(cifar100_config(backbone, 'AdamW'))
    cpu_ops = [t['type'] for t in cfg.train_dataloader.dataset.pipeline][:-1]
    apply_throughput_options(cfg, gpu_data=True)
    assert [t['type'] for t in cfg.data_preprocessor.train_augments] == cpu_ops
    from bocb_mm.models import GPUAugDataPreprocessor
    pre = GPUAugDataPreprocessor(**{k: v for k, v in cfg.data_preprocessor.items()
                                    if k != 'type'})
    assert len(pre.train_augments) == len(cpu_ops)


# ----------------------------------------------------------------------------- GPU data path
def test_randaugment_runs_each_op_on_its_images_only(monkeypatch):
    """Per slot the ops together see at most the batch (not every op the whole batch)."""
    from bocb_mm.datasets.gpu_augment import functional
    from bocb_mm.datasets.gpu_augment.transforms import BatchRandAugment
    seen: list[tuple[str, int]] = []
    op = functional.randaug_op

    def counting_op(name, imgs, magnitude, **kwargs):
        seen.append((name, imgs.shape[0]))
        assert magnitude.shape == (imgs.shape[0],)
        return op(name, imgs, magnitude, **kwargs)

    monkeypatch.setattr(functional, 'randaug_op', counting_op)
    torch.manual_seed(0)
    augment = BatchRandAugment('timm_increasing', num_policies=2, magnitude_level=9,
                               magnitude_std=0.5, total_level=10)
    batch = torch.randint(0, 256, (64, 3, 16, 16)).float()
    out = augment(batch)
    assert out.shape == batch.shape and not torch.equal(out, batch)
    assert len({name for name, _ in seen}) > 1
    assert 0 < sum(n for _, n in seen) <= 2 * 64  # each image takes one op per slot at most


# ----------------------------------------------------------------------------- step timer
def test_step_timer_marks_train_iterations_only_and_removes_its_hooks(tmp_path):
    """The timing hooks fire inside training iterations only and are gone after training."""
    from engine_helpers import TinyClsDataset, cls_model_cfg, make_runner, read_scalars

    from bocb_mm.engine import StepTimerHook
    timer = StepTimerHook()
    runner = make_runner(str(tmp_path), cls_model_cfg(), TinyClsDataset(n=8),
                         dict(optimizer=dict(type='SGD', lr=0.01)), scope='mmpretrain',
                         max_iters=2, custom_hooks=[timer])
    preprocessor = runner.model.data_preprocessor
    n_hooks = len(preprocessor._forward_hooks)
    runner.train()
    rows = [r for r in read_scalars(str(tmp_path)) if 'loss' in r]
    assert len(rows) == 2 and all(r['fwd_bwd_time'] > 0 and r['optim_time'] > 0 for r in rows)
    optimizer = runner.optim_wrapper.optimizer  # built by train()
    assert len(preprocessor._forward_hooks) == n_hooks, 'StepTimerHook left its hooks'
    assert not optimizer._optimizer_step_pre_hooks and not optimizer._optimizer_step_post_hooks
    # outside a training iteration (validation, a later call) nothing is marked
    timer.before_train(runner)
    timer._marks = {}
    with torch.no_grad():
        runner.model.val_step(dict(inputs=[img for img in TinyClsDataset(n=2).images]))
    assert timer._marks == {}
    assert len(preprocessor._forward_hooks) == n_hooks + 1
    timer.after_train(runner)
    assert len(preprocessor._forward_hooks) == n_hooks


# ----------------------------------------------------------------------------- training runs
def test_gpu_data_path_trains_r50(tiny_cifar, tmp_path):
    work_dir = str(tmp_path / 'r50_gpu_data')
    train(cifar100_config('R-50', 'SGD-M'), work_dir,
          data_options(tiny_cifar, n_train=16) + SMALL['R-50'], '--gpu-data')
    assert_trained(work_dir, iters=2)
    dumped = Config.fromfile(osp.join(work_dir, osp.basename(cifar100_config('R-50', 'SGD-M'))))
    assert dumped.train_dataloader.dataset.pipeline == [dict(type='PackInputs')]


def test_gpu_data_path_trains_deit_224_randaug_mixup(tiny_cifar, tmp_path):
    work_dir = str(tmp_path / 'deit_gpu_data')
    train(cifar100_config('DeiT-S', 'AdamW'), work_dir,
          data_options(tiny_cifar, n_train=8, batch=4) + SMALL['DeiT-S'],
          '--gpu-data', '--channels-last')
    assert_trained(work_dir, iters=2)


def _deterministic(tmp_path) -> str:
    return deterministic_config('R-50', 'AdamW', tmp_path)


def test_bf16_autocast_stays_within_noise_of_fp32(tiny_cifar, tmp_path):
    config = _deterministic(tmp_path)
    opts = data_options(tiny_cifar, n_train=16, epochs=2) + SMALL['R-50']
    fp32, bf16 = str(tmp_path / 'fp32'), str(tmp_path / 'bf16')
    train(config, fp32, opts)
    train(config, bf16, opts, '--amp', 'bf16')
    a, b = losses(fp32), losses(bf16)
    assert len(a) == len(b) == 4
    for x, y in zip(a, b):  # bf16 keeps 8 bits of mantissa: ~1 % on a loss of ~4.6
        assert abs(x - y) <= 0.03 * abs(x), (a, b)


@pytest.mark.slow
def test_compiled_run_gives_the_eager_losses(tiny_cifar, tmp_path):
    """torch.compile (inductor, C++ on CPU) of the whole train step: a minute or more here."""
    config = _deterministic(tmp_path)
    opts = data_options(tiny_cifar, n_train=16, epochs=2) + SMALL['R-50']
    eager, compiled = str(tmp_path / 'eager'), str(tmp_path / 'compiled')
    train(config, eager, opts)
    train(config, compiled, opts, '--compile')
    torch.testing.assert_close(losses(compiled), losses(eager), rtol=1e-3, atol=1e-4)


def test_compiled_graph_capture_gives_the_eager_losses(tiny_cifar, tmp_path):
    """The same through dynamo + AOT autograd without code generation (``aot_eager``): the
    train step, the optimizer wrapper and the optimizer run under ``torch.compile``."""
    config = _deterministic(tmp_path)
    opts = data_options(tiny_cifar, n_train=16, epochs=2) + SMALL['R-50']
    eager, compiled = str(tmp_path / 'eager'), str(tmp_path / 'aot')
    train(config, eager, opts)
    train(config, compiled, opts + ['compile.backend=aot_eager'], '--compile')
    torch.testing.assert_close(losses(compiled), losses(eager), rtol=1e-4, atol=1e-5)


def test_packed_benchmark_runs_share_the_first_gpu(monkeypatch):
    """``train_throughput --runs N`` places N runs as ``bocb_sweep run --runs-per-gpu N``."""
    from bocb_mm.benchmark.train_throughput import placements
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '3,5')
    assert placements(3) == ['3', '3', '3']
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    assert placements(2) == [None, None]  # no GPU: CPU runs, CUDA_VISIBLE_DEVICES untouched


def test_train_throughput_benchmark_reports_phases(tmp_path):
    """The train_throughput benchmark on CPU: one packed run, small model, a few iters."""
    from bocb_mm.benchmark.train_throughput import main
    out = tmp_path / 'throughput.json'
    results = main([cifar100_config('R-50', 'AdamW'), '--runs', '1', '--iters', '3',
                    '--warmup', '1', '--batch', '4', '--num-workers', '0', '--gpu-data',
                    '--work-dir', str(tmp_path / 'work'), '--json', str(out),
                    '--cfg-options', *SMALL['R-50']])
    (row,) = results
    assert row['runs'] == 1 and row['img_s'] > 0
    for phase in ('iter', 'data', 'preproc', 'fwd+bwd', 'optim'):
        assert row[f'{phase}_ms'] is not None and row[f'{phase}_ms'] >= 0
    assert row['fwd+bwd_ms'] > 0 and row['optim_ms'] > 0, 'the step marks never fired'
    assert row['fwd+bwd_ms'] + row['optim_ms'] <= row['iter_ms'] * 1.5
    assert out.exists()


def test_train_step_benchmark_checks_and_times_the_layouts(capsys):
    """tools/benchmark/train_step.py: float64 gradient check, then one ratio per variant."""
    from bocb_mm.benchmark.train_step import VARIANTS, main
    main([f'{REPO}/configs/demo/mini-convnext_digits.py', '--batch', '4', '--repeats', '1'])
    lines = capsys.readouterr().out.splitlines()
    ratios = {line.split()[0]: line.split()[-1] for line in lines if line.startswith('  ')}
    assert list(ratios) == list(VARIANTS) and ratios['plain'] == '1.00x'
    assert all(value.endswith('x') and float(value[:-1]) > 0 for value in ratios.values())
