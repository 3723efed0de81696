"""What a new machine and a new user meet first: the set-up's mmcv source path, the installed
(non-editable) package, the registries' module locations, ``--amp`` on every optimizer's config,
and the zoo's optimizer configs."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

import bocb_mm.registry as registry
from bocb_mm.engine.amp import enable_amp
from bocb_mm.optim import get_info, list_optimizers, optimizer_cfg, study_hparams

ROOT = Path(__file__).resolve().parents[1]
BUILD_MMCV = ROOT / 'tools' / 'setup' / 'build_mmcv.py'


def test_prepare_only_refuses_an_env_without_pkg_resources(tmp_path: Path) -> None:
    """setuptools >= 82 has no pkg_resources: the source path stops at once and says the fix."""
    shadow = tmp_path / 'shadow'
    shadow.mkdir()
    (shadow / 'pkg_resources.py').write_text(
        "raise ModuleNotFoundError(\"No module named 'pkg_resources'\")\n")
    env = {**os.environ, 'PYTHONPATH': str(shadow), 'BOCB_CACHE': str(tmp_path / 'cache')}
    proc = subprocess.run([sys.executable, str(BUILD_MMCV), '--version', '2.1.0',
                           '--prepare-only'], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode != 0
    assert "'import pkg_resources' fails" in proc.stderr
    assert "pip install 'setuptools>=77.0.3,<82'" in proc.stderr
    assert 'mmcv 2.1.0' in proc.stderr
    assert not (tmp_path / 'cache').exists(), 'nothing may be downloaded before the check'


def test_setup_pins_setuptools_for_every_pip_call() -> None:
    """Every install in the set-up carries the constraints file that holds setuptools < 82."""
    script = (ROOT / 'tools' / 'setup' / 'setup_env.sh').read_text()
    constraints = (ROOT / 'requirements' / 'constraints.txt').read_text()
    assert 'setuptools>=77.0.3,<82' in constraints
    installs = [line for line in script.splitlines() if 'install' in line and 'PIP[@]' in line
                and 'uninstall' not in line and not line.startswith('PIPI=(')]
    assert installs == [], f'pip installs without the constraints: {installs}'
    assert script.count('"${PIPI[@]}"') >= 8
    assert script.index('need_pkg_resources\n') < script.index('build_mmcv.py" --version')


@pytest.mark.parametrize('name', registry.__all__[1:])
def test_registry_locations_are_real_modules(name: str) -> None:
    reg = getattr(registry, name)
    assert reg.scope == 'bocb_mm'
    for location in reg._locations:
        assert importlib.util.find_spec(location) is not None, f'{name}: {location} missing'


def _one_config_per_optimizer() -> dict[str, Path]:
    """One shipped CIFAR-100 ResNet-50 config per optimizer of the zoo."""
    configs = {}
    for path in sorted((ROOT / 'configs' / 'cifar100' / 'resnet50').glob('*.py')):
        optimizer = Config.fromfile(path).bocb['optimizer']
        configs.setdefault(get_info(optimizer).name, path)
    return configs


def test_amp_accepted_for_every_optimizer() -> None:
    configs = _one_config_per_optimizer()
    assert sorted(configs) == sorted(list_optimizers())
    for name, path in configs.items():
        cfg = Config.fromfile(path)
        before = cfg.optim_wrapper.get('type', 'OptimWrapper')
        enable_amp(cfg.optim_wrapper)
        after = cfg.optim_wrapper.type
        assert after.rpartition('.')[2] in ('AmpOptimWrapper', 'SophiaAmpOptimWrapper'), name
        assert before.rpartition('.')[0] == after.rpartition('.')[0], 'scope kept'
        assert cfg.optim_wrapper.loss_scale == 'dynamic'
        if name == 'Sophia':
            assert after == 'bocb_mm.SophiaAmpOptimWrapper'


def test_amp_refuses_a_wrapper_without_twin() -> None:
    with pytest.raises(ValueError, match='bocb_mm.StatsOptimWrapper, which has no AMP form'):
        enable_amp(dict(type='bocb_mm.StatsOptimWrapper'))
    cfg = dict(type='AmpOptimWrapper', loss_scale=512.0)
    assert enable_amp(cfg) == dict(type='AmpOptimWrapper', loss_scale=512.0)


@pytest.mark.parametrize('name', list_optimizers())
def test_optimizer_cfg_builds_or_names_lr(name: str) -> None:
    """Every zoo config either builds as it is or says which argument is missing."""
    from mmengine.optim import build_optim_wrapper
    from torch import nn
    model = nn.Linear(3, 2)
    try:
        cfg = optimizer_cfg(name)
    except ValueError as err:
        assert 'has no default for lr' in str(err)
        lrs = [lr for lr, _ in study_hparams(name).values()]
        assert f'spans {min(lrs):g} to {max(lrs):g}' in str(err)
        cfg = optimizer_cfg(name, lr=min(lrs))
    wrapper = build_optim_wrapper(model, dict(optimizer=cfg))
    assert type(wrapper.optimizer) is get_info(name).cls


def test_study_hparams_reads_the_paper_table() -> None:
    import csv
    with (ROOT / 'bocb_mm' / 'data' / 'paper' / 'cifar100_hparams.csv').open() as f:
        rows = [r for r in csv.DictReader(f) if r['optimizer'] == 'LAMB']
    table = study_hparams('lamb')
    assert list(table) == [r['backbone'] for r in rows]
    assert table['DeiT-S'] == next((float(r['lr']), float(r['weight_decay']))
                                   for r in rows if r['backbone'] == 'DeiT-S')


def test_installed_wheel_runs_outside_the_repository(tmp_path: Path) -> None:
    """A non-editable install ships every data file the package reads."""
    src = tmp_path / 'src'
    shutil.copytree(ROOT / 'bocb_mm', src / 'bocb_mm',
                    ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copytree(ROOT / 'requirements', src / 'requirements')
    for item in ('setup.py', 'README.md'):
        shutil.copy2(ROOT / item, src / item)
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check', '-q']
    subprocess.run([*pip, 'wheel', '--no-deps', '--no-build-isolation', '-w',
                    str(tmp_path / 'dist'), str(src)], check=True, timeout=300)
    wheel = next((tmp_path / 'dist').glob('bocb_mm-*.whl'))
    target = tmp_path / 'site'
    subprocess.run([*pip, 'install', '--no-deps', '--target', str(target), str(wheel)],
                   check=True, timeout=300)
    script = f'''
import bocb_mm
assert bocb_mm.__file__.startswith({str(target)!r}), bocb_mm.__file__
from bocb_mm.optim import list_optimizers, study_hparams
from bocb_mm.analysis import paper
from bocb_mm.analysis.report import make_report
assert len(list_optimizers()) == 20 and study_hparams('Adan')
printed = paper.parse_printed_stats(paper.PROJECT_PAGE.read_text())
summary = make_report(paper.CIFAR100_TOP1, 'report', hparams=str(paper.CIFAR100_HPARAMS))
print(len(printed), sorted(summary)[:3])
'''
    run_dir = tmp_path / 'elsewhere'
    run_dir.mkdir()
    env = {**os.environ, 'PYTHONPATH': str(target), 'MPLBACKEND': 'Agg'}
    proc = subprocess.run([sys.executable, '-c', script], cwd=run_dir, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run_dir / 'report' / 'report.md').is_file()
