"""The in-process executor (long-lived workers that build many mmengine Runners) and the
subprocess one, on tiny real runs: records, per-run overhead, divergence, failures, skipping
finished runs, and the same numbers in both modes."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bocb_mm.datasets import random_cifar
from bocb_mm.sweep import InProcessExecutor, Run, SubprocessExecutor, is_finished
from bocb_mm.sweep.collect import read_scalars, result_row

from sweep_helpers import CONFIG, DIVERGENCE_CHECK


def _runs(root: Path) -> dict[str, Run]:
    data_root = root / 'data'
    random_cifar(str(data_root), num_train=40, num_test=16, num_classes=10)
    kinds = {'good': ('ResNet_CIFAR', 0.05), 'diverging': ('ResNet_CIFAR', 1e30),
             'broken': ('NoSuchBackbone', 0.05)}
    runs = {}
    for name, (backbone, lr) in kinds.items():
        path = root / f'{name}.py'
        text = CONFIG.format(backbone='Mini-R8', optimizer='SGD-M', width=8, channels=64,
                             data_root=str(data_root), epochs=2,
                             optimizer_cfg=f"dict(type='SGD', lr={lr}, momentum=0.9)")
        path.write_text(text.replace("'ResNet_CIFAR'", repr(backbone)) + DIVERGENCE_CHECK)
        runs[name] = Run(config=str(path), seed=0, work_dir=str(root / 'work' / name))
    runs['good_seed1'] = Run(config=runs['good'].config, seed=1,
                             work_dir=str(root / 'work' / 'good1'))
    return runs


def test_inprocess_executor(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    with InProcessExecutor(jobs=2, threads_per_job=1) as executor:
        futures = {k: executor.submit(r) for k, r in runs.items()}
        records = {k: f.result(timeout=600) for k, f in futures.items()}
    assert records['good']['status'] == records['good_seed1']['status'] == 'finished'
    assert records['diverging']['status'] == 'diverged'
    assert 'loss become infinite or NaN' in records['diverging']['log_tail']
    assert records['broken']['status'] == 'failed'
    assert 'NoSuchBackbone' in records['broken']['log_tail']
    # long-lived workers: 4 runs on 2 processes
    assert len({r['pid'] for r in records.values()}) <= 2
    for key in ('good', 'good_seed1'):
        record = records[key]
        assert 0 < record['overhead'] < record['wall_time']
        row = result_row(runs[key])
        assert row['epochs'] == 2 and 0 <= row['last_top1'] <= 100
    # finished and diverged runs are done for good; a failed one runs again
    assert is_finished(runs['good']) and is_finished(runs['diverging'])
    assert not is_finished(runs['broken'])
    # the console output of a run went to its log, not to the parent
    assert 'Epoch(train)' in (Path(runs['good'].work_dir) / 'sweep_train.log').read_text()


def test_subprocess_executor_gives_the_same_numbers(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    good = runs['good']
    twin = Run(config=good.config, seed=0, work_dir=str(tmp_path / 'work' / 'twin'))
    with InProcessExecutor(jobs=1, threads_per_job=1) as executor:
        assert executor.submit(good).result(timeout=600)['status'] == 'finished'
    with SubprocessExecutor(jobs=1, threads_per_job=1) as executor:
        record = executor.submit(twin).result(timeout=600)
    assert record['status'] == 'finished' and record['executor'] == 'subprocess'

    def history(run: Run) -> list[tuple]:
        return [(r.get('loss'), r.get('accuracy/top1')) for r in read_scalars(run.work_dir)]

    assert history(good) == history(twin)
    diverging = SubprocessExecutor(jobs=1, threads_per_job=1)
    with diverging:
        assert diverging.submit(runs['diverging']).result(timeout=600)['status'] == 'diverged'


@pytest.mark.parametrize('jobs', [0, 1])
def test_executor_has_at_least_one_worker(jobs: int) -> None:
    executor = InProcessExecutor(jobs=jobs)
    try:
        assert executor.jobs == 1 and executor.threads >= 1
    finally:
        executor.shutdown()


@pytest.fixture(scope='module')
def two_epochs(tmp_path_factory) -> tuple[Path, Path]:
    """A finished 2-epoch run (epoch_1.pth, epoch_2.pth) and the config of a 3-epoch one."""
    root = tmp_path_factory.mktemp('fallback')
    random_cifar(str(root / 'data'), num_train=40, num_test=16, num_classes=10)
    texts = {n: CONFIG.format(backbone='Mini-R8', optimizer='SGD-M', width=8, channels=64,
                              data_root=str(root / 'data'), epochs=n,
                              optimizer_cfg="dict(type='SGD', lr=0.05, momentum=0.9)")
             for n in (2, 3)}
    for n, text in texts.items():
        (root / f'e{n}.py').write_text(text)
    run = Run(config=str(root / 'e2.py'), seed=0, work_dir=str(root / 'done'))
    with InProcessExecutor(jobs=1, threads_per_job=1) as executor:
        assert executor.submit(run).result(timeout=600)['status'] == 'finished'
    return root / 'done', root / 'e3.py'


@pytest.mark.parametrize('executor', [InProcessExecutor, SubprocessExecutor])
def test_every_executor_falls_back_from_a_truncated_checkpoint(executor, two_epochs,
                                                               tmp_path: Path) -> None:
    """Both executors train through :func:`bocb_mm.training.train`: a truncated latest
    checkpoint makes either one resume from the newest intact one, saying so."""
    done, config = two_epochs
    work_dir = tmp_path / 'run'
    work_dir.mkdir()
    for name in ('epoch_1.pth', 'epoch_2.pth'):
        shutil.copy(done / name, work_dir / name)
    data = (work_dir / 'epoch_2.pth').read_bytes()
    (work_dir / 'epoch_2.pth').write_bytes(data[:len(data) // 2])
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_2.pth'))
    run = Run(config=str(config), seed=0, work_dir=str(work_dir))
    with executor(jobs=1, threads_per_job=1) as pool:
        record = pool.submit(run).result(timeout=600)
    log = (work_dir / 'sweep_train.log').read_text()
    assert record['status'] == 'finished', log[-3000:]
    assert f'{work_dir / "epoch_2.pth"} is corrupt or truncated' in log
    assert f'resuming from {work_dir / "epoch_1.pth"} instead' in log
    assert (work_dir / 'epoch_3.pth').is_file()
