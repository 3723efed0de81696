"""Write a planned grid as one Slurm job array: an index map and an sbatch script.

Each array task reads its line of the index map and trains through ``tools/slurm_train.sh``
(``srun`` inside the task's allocation), so the cluster's scheduler does the queueing. Finished
runs are left out of the map; a run with a checkpoint resumes (``--resume``).
"""
from __future__ import annotations

import os
import os.path as osp
import shlex
from pathlib import Path
from typing import Sequence

from bocb_mm.training.options import TrainOptions
from bocb_mm.utils.fileio import atomic_write

from .collect import has_checkpoint, is_finished
from .local import REPO_ROOT
from .plan import Run
from .record import set_aside_other_run

MAP_FIELDS = ('index', 'config', 'work_dir', 'seed', 'backbone', 'optimizer', 'resume')


def write_index_map(runs: Sequence[Run], path: str) -> list[Run]:
    """Write the TSV map ``index -> run`` of the runs still to do; returns those runs.

    A work dir holding another configuration's run (another fingerprint) is moved aside first
    (:func:`~bocb_mm.sweep.record.set_aside_other_run`).
    """
    todo = [r for r in runs if not is_finished(r)]
    for run in todo:  # a task must not resume another configuration's checkpoint
        set_aside_other_run(run)
    lines = ['\t'.join(MAP_FIELDS)]
    for i, run in enumerate(todo):
        row = (i, run.config, run.work_dir, run.seed, run.backbone, run.optimizer,
               int(has_checkpoint(run)))
        lines.append('\t'.join(str(v) for v in row))
    text = '\n'.join(lines) + '\n'
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return todo


def sbatch_script(map_path: str, n_tasks: int, partition: str, job_name: str,
                  gpus_per_run: int = 1, cpus_per_gpu: int = 5, max_parallel: int | None = None,
                  time_limit: str | None = None, options: TrainOptions | None = None) -> str:
    """The text of an sbatch array script over ``map_path``'s ``n_tasks`` lines, each task
    training with ``options`` (its work dir, seed and resume from the map)."""
    array = f'0-{n_tasks - 1}' + (f'%{max_parallel}' if max_parallel else '')
    log_dir = osp.join(osp.dirname(osp.abspath(map_path)), 'slurm_logs')
    lines = [
        '#!/usr/bin/env bash',
        f'#SBATCH --job-name={job_name}',
        f'#SBATCH --partition={partition}',
        f'#SBATCH --array={array}',
        f'#SBATCH --ntasks={gpus_per_run}',
        f'#SBATCH --gres=gpu:{min(gpus_per_run, 8)}',
        f'#SBATCH --cpus-per-task={cpus_per_gpu}',
        f'#SBATCH --output={log_dir}/%A_%a.out',
    ]
    if time_limit:
        lines.append(f'#SBATCH --time={time_limit}')
    extra = ' '.join(shlex.quote(a) for a in (options or TrainOptions()).to_argv())
    lines += [
        'set -euo pipefail',
        f'cd {shlex.quote(REPO_ROOT)}',
        f'MAP={shlex.quote(osp.abspath(map_path))}',
        '# columns: ' + ' '.join(MAP_FIELDS),
        'LINE=$(awk -F\'\\t\' -v i="$SLURM_ARRAY_TASK_ID" \'NR > 1 && $1 == i\' "$MAP")',
        'IFS=$\'\\t\' read -r _ CONFIG WORK_DIR SEED BACKBONE OPTIMIZER RESUME <<< "$LINE"',
        'RESUME_ARG=(); [ "$RESUME" = 1 ] && RESUME_ARG=(--resume)',
        'echo "task $SLURM_ARRAY_TASK_ID: $BACKBONE x $OPTIMIZER seed $SEED -> $WORK_DIR"',
        f'GPUS={gpus_per_run} GPUS_PER_NODE={min(gpus_per_run, 8)} CPUS_PER_TASK={cpus_per_gpu} \\',
        f'  bash tools/slurm_train.sh {shlex.quote(partition)} {shlex.quote(job_name)} '
        '"$CONFIG" "$WORK_DIR" "${RESUME_ARG[@]}" --seed "$SEED"'
        + (f' {extra}' if extra else ''),
    ]
    return '\n'.join(lines) + '\n'


def write_slurm_array(runs: Sequence[Run], out_dir: str, partition: str, job_name: str = 'bocb',
                      **kwargs) -> tuple[str, str, list[Run]]:
    """Write ``index_map.tsv`` and ``sweep.sbatch`` into ``out_dir``.

    Returns:
        (script path, map path, runs in the array). The array is empty (no script) when every
        run has finished.
    """
    os.makedirs(osp.join(out_dir, 'slurm_logs'), exist_ok=True)
    map_path = osp.join(out_dir, 'index_map.tsv')
    todo = write_index_map(runs, map_path)
    script_path = osp.join(out_dir, 'sweep.sbatch')
    if todo:
        shared = {run.options for run in todo}
        if len(shared) > 1:
            raise ValueError('the runs of one Slurm array must share their training options')
        text = sbatch_script(map_path, len(todo), partition, job_name, options=todo[0].options,
                             **kwargs)
        atomic_write(script_path, lambda tmp: Path(tmp).write_text(text))
    return script_path, map_path, todo
