"""The sweep on a 2 x 3 grid of tiny real runs (tools/train.py on generated CIFAR-100 pickles):
it completes, resumes after being killed, records a failing run, and writes a Slurm array."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bocb_mm.datasets import random_cifar
from bocb_mm.sweep import find_configs, plan_grid
from bocb_mm.sweep.collect import RUN_RECORD
from bocb_mm.sweep.slurm import read_index_map, write_slurm_array

from sweep_helpers import CONFIG

REPO = Path(__file__).resolve().parents[2]
SWEEP = [sys.executable, str(REPO / 'tools' / 'bocb_sweep.py')]


OPTIMIZERS = {'SGD-M': "dict(type='SGD', lr=0.05, momentum=0.9)",
              'AdamW': "dict(type='AdamW', lr=1e-3, weight_decay=0.05)",
              'LION': "dict(type='bocb_mm.Lion', lr=1e-4, weight_decay=0.1)"}


def _write_grid(root: Path, epochs: int = 1) -> list[str]:
    data_root = root / 'data'
    random_cifar(str(data_root), num_train=40, num_test=16, num_classes=10)
    paths = []
    for backbone, width in (('Mini-R8', 8), ('Mini-R4', 4)):
        for optimizer, optimizer_cfg in OPTIMIZERS.items():
            path = root / 'configs' / f'{backbone.lower()}_{optimizer.lower()}.py'
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(CONFIG.format(backbone=backbone, optimizer=optimizer, width=width,
                                          channels=width * 8, data_root=str(data_root),
                                          optimizer_cfg=optimizer_cfg, epochs=epochs))
            paths.append(str(path))
    return paths


def _sweep(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(SWEEP + list(args), cwd=REPO, capture_output=True, text=True,
                          timeout=900, **kwargs)


def test_plan_reads_identity_from_configs(tmp_path: Path) -> None:
    configs = _write_grid(tmp_path)
    runs = plan_grid(find_configs([str(tmp_path / 'configs' / '*.py')]), str(tmp_path / 'w'),
                     seeds=(0, 1), optimizers=['adamw', 'LION'])
    assert len(runs) == len(configs) // 3 * 2 * 2
    assert {r.optimizer for r in runs} == {'AdamW', 'LION'}
    assert {r.backbone for r in runs} == {'Mini-R8', 'Mini-R4'}
    with pytest.raises(ValueError, match='grid is empty'):
        plan_grid(configs, str(tmp_path / 'w'), backbones=['nope'])
    with pytest.raises(FileNotFoundError, match='not found'):
        find_configs([str(tmp_path / 'missing.py')])


def test_sweep_runs_resumes_after_kill_and_records_failures(tmp_path: Path) -> None:
    configs = _write_grid(tmp_path, epochs=1)
    bad = tmp_path / 'configs' / 'broken_sgd-m.py'
    bad.write_text(Path(configs[0]).read_text().replace("'ResNet_CIFAR'", "'NoSuchBackbone'")
                   .replace("backbone='Mini-R8'", "backbone='Broken'"))
    work = tmp_path / 'work'
    pattern = str(tmp_path / 'configs' / '*.py')

    # 1. start the sweep (one run at a time), kill it once the first run has finished
    proc = subprocess.Popen(SWEEP + ['run', pattern, '--work-root', str(work), '--jobs', '1'],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    def finished() -> set[Path]:  # records are written whole: a started run has one too
        return {p.parent for p in work.glob(f'*/seed0/{RUN_RECORD}')
                if json.loads(p.read_text())['status'] == 'finished'}

    deadline = time.time() + 600
    while time.time() < deadline and not finished():
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    assert proc.returncode == 143, proc.stdout.read()  # SIGTERM ends the sweep
    done_first = finished()
    assert len(done_first) < 6, 'killed too late to test resuming'
    stamps = {p: (p / RUN_RECORD).stat().st_mtime for p in done_first}

    # 2. re-run: only what is missing runs; the broken config fails without stopping the rest
    result = _sweep('run', pattern, '--work-root', str(work), '--jobs', '2')
    assert result.returncode == 1, result.stdout + result.stderr  # one failure
    assert 'FAILED' in result.stderr and 'NoSuchBackbone' in result.stderr
    for path, stamp in stamps.items():
        assert (path / RUN_RECORD).stat().st_mtime == stamp, f'{path} was run again'
    with open(work / 'results.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 7
    status = {(r['backbone'], r['optimizer']): r for r in rows}
    assert status[('Broken', 'SGD-M')]['status'] == 'failed'
    broken = json.loads((work / 'broken_sgd-m' / 'seed0' / RUN_RECORD).read_text())
    assert 'NoSuchBackbone' in broken['log_tail']
    finished = [r for r in rows if r['status'] == 'finished']
    assert len(finished) == 6
    for row in finished:
        assert 0.0 <= float(row['top1']) <= 100.0
        assert row['epochs'] == '1' and float(row['wall_time']) > 0

    # 3. a third call has nothing left to do but the broken run
    again = _sweep('plan', pattern, '--work-root', str(work))
    assert again.stdout.count('finished') == 6


def test_slurm_array_script_and_map(tmp_path: Path) -> None:
    configs = _write_grid(tmp_path)
    runs = plan_grid(configs, str(tmp_path / 'w'), seeds=(0, 1))
    script, index_map, todo = write_slurm_array(runs, str(tmp_path / 'w'), partition='gpu',
                                                job_name='bocb-test', max_parallel=4,
                                                time_limit='12:00:00')
    assert len(todo) == 12
    text = Path(script).read_text()
    assert '#SBATCH --array=0-11%4' in text
    assert '#SBATCH --partition=gpu' in text and '#SBATCH --time=12:00:00' in text
    assert '#SBATCH --gres=gpu:1' in text and '#SBATCH --requeue' in text
    assert '#SBATCH --signal=B:USR1@300' in text
    assert 'from bocb_mm.sweep.slurm import main' in text
    subprocess.run(['bash', '-n', script], check=True)
    lines = Path(index_map).read_text().splitlines()
    assert lines[0].split('\t')[:4] == ['index', 'config', 'work_dir', 'seed']
    assert len(lines) == 13
    assert read_index_map(index_map) == todo  # what each task reads back
    cpu = Path(write_slurm_array(runs, str(tmp_path / 'cpu'), partition='debug',
                                 gpus_per_run=0)[0]).read_text()
    assert '--gres' not in cpu and '#SBATCH --ntasks=1' in cpu
    # the CLI prints the submit command
    result = _sweep('slurm', *configs, '--work-root', str(tmp_path / 'w2'), '--partition', 'gpu')
    assert result.returncode == 0, result.stderr
    assert 'sbatch' in result.stdout and 'index map (6 runs)' in result.stdout


def test_train_command_is_the_runs_options(tmp_path: Path) -> None:
    from bocb_mm.cli.train import parse_args
    from bocb_mm.sweep import Run, train_command
    from bocb_mm.training import TrainOptions
    options = TrainOptions(amp='fp16', cfg_options={'train_cfg.max_epochs': 1},
                           resume=str(tmp_path / 'start.pth'))
    run = Run(config='c.py', seed=3, work_dir=str(tmp_path / 'w'), options=options)
    cmd = train_command(run, python='py')
    assert cmd[:3] == ['py', str(REPO / 'tools' / 'train.py'), 'c.py']
    parsed = TrainOptions.from_namespace(parse_args(cmd[2:]))
    assert parsed == options.replace(work_dir=run.work_dir, seed=3)
    (tmp_path / 'w').mkdir()  # its own checkpoint wins over the one it starts from
    (tmp_path / 'w' / 'last_checkpoint').write_text('epoch_1.pth')
    parsed = TrainOptions.from_namespace(parse_args(train_command(run, python='py')[2:]))
    assert parsed.resume == 'auto'


def test_transfer_runs_are_keyed_by_paper_column(tmp_path: Path) -> None:
    configs = find_configs([str(REPO / 'configs/coco_det/resnet50_*/*_adamw_*.py'),
                            str(REPO / 'configs/coco_pose/resnet50_*/*_adamw_*.py')])
    runs = plan_grid(configs, str(tmp_path), backbones=['R-50'])
    det = {r.backbone for r in runs if r.dataset == 'coco-det'}
    assert {'det:R-50 (SGD)', 'det:R-50 (LARS)', 'det:R-50 (Adan)'} <= det
    assert 'pose:R-50 (SGD)' in {r.backbone for r in runs if r.dataset == 'coco-pose'}
    assert len({r.work_dir for r in runs}) == len(runs)


# ----------------------------------------------------------------------------- GPU packing
def test_visible_gpus_read_cuda_visible_devices_as_cuda_does():
    from bocb_mm.sweep.local import visible_gpus
    assert visible_gpus({'CUDA_VISIBLE_DEVICES': '2, 5'}) == ['2', '5']
    assert visible_gpus({'CUDA_VISIBLE_DEVICES': 'GPU-1a2b,GPU-3c4d'}) == ['GPU-1a2b', 'GPU-3c4d']
    assert visible_gpus({'CUDA_VISIBLE_DEVICES': '0,-1,3'}) == ['0']  # CUDA stops at -1
    assert visible_gpus({'CUDA_VISIBLE_DEVICES': ''}) == []
    import torch
    assert visible_gpus({}) == [str(i) for i in range(torch.cuda.device_count())]


def test_gpu_slots_interleave_gpus_and_refuse_without_one():
    from bocb_mm.sweep.local import gpu_slots
    assert gpu_slots(['2', '5'], 3) == ['2', '5', '2', '5', '2', '5']
    assert gpu_slots(['0'], 1) == ['0']
    with pytest.raises(RuntimeError, match='no GPU is visible.*--jobs'):
        gpu_slots([], 2)
    with pytest.raises(ValueError, match='runs_per_gpu must be >= 1'):
        gpu_slots(['0'], 0)


# A stand-in for tools/train.py's interpreter: records the environment and the time span of
# each launched process in its work dir (argv: train.py, config, --work-dir, WORK_DIR, ...).
ENV_PROBE = '''#!{python}
import json, os, sys, time
start = time.time()
time.sleep(1.5)  # long enough for all slots to start on a loaded machine
with open(os.path.join(sys.argv[4], 'probe.json'), 'w') as f:
    json.dump(dict(gpu=os.environ.get('CUDA_VISIBLE_DEVICES'), start=start, end=time.time(),
                   threads=os.environ['OMP_NUM_THREADS']), f)
'''


def _max_overlap(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    depth = peak = 0
    for _, step in events:
        depth += step
        peak = max(peak, depth)
    return peak


def test_runs_per_gpu_gives_each_run_one_gpu_and_packs_n(tmp_path: Path) -> None:
    from bocb_mm.sweep import Run, run_local
    probe = tmp_path / 'probe_python'
    probe.write_text(ENV_PROBE.format(python=sys.executable))
    probe.chmod(0o755)
    runs = [Run(config='unused.py', seed=i, work_dir=str(tmp_path / f'run{i}'))
            for i in range(6)]
    records = run_local(runs, python=str(probe), runs_per_gpu=2, gpus=['3', '7'],
                        threads_per_job=2, poll=0.05)
    assert [r['status'] for r in records] == ['finished'] * 6
    probes = [json.loads((Path(r.work_dir) / 'probe.json').read_text()) for r in runs]
    assert {p['gpu'] for p in probes} == {'3', '7'}
    assert all(p['threads'] == '2' for p in probes)
    assert sorted(r['gpu'] for r in records) == sorted(p['gpu'] for p in probes)
    spans = {gpu: [(p['start'], p['end']) for p in probes if p['gpu'] == gpu] for gpu in '37'}
    assert max(_max_overlap(s) for s in spans.values()) == 2  # packed, never more than N
    assert _max_overlap([span for s in spans.values() for span in s]) == 4
    with pytest.raises(RuntimeError, match='no GPU is visible'):
        run_local(runs, python=str(probe), runs_per_gpu=1, gpus=[])


def test_cli_runs_per_gpu_without_a_gpu_stops_with_a_message(tmp_path: Path) -> None:
    configs = _write_grid(tmp_path)
    result = _sweep('run', configs[0], '--work-root', str(tmp_path / 'w'), '--runs-per-gpu', '2',
                    env={**os.environ, 'CUDA_VISIBLE_DEVICES': ''})
    assert result.returncode == 2, result.stdout + result.stderr
    assert 'no GPU is visible' in result.stderr and '--jobs' in result.stderr
    assert not list((tmp_path / 'w').glob(f'*/seed0/{RUN_RECORD}'))
