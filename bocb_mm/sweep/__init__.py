"""Grid planning, the local queue (in-process workers or subprocesses), the Slurm array writer,
the tuning protocol and result collection."""
from .collect import CSV_FIELDS, collect, is_finished, read_scalars, summarize_metrics
from .inprocess import InProcessExecutor, train_in_process
from .local import SubprocessExecutor, run_local, train_command
from .plan import Run, find_configs, plan_grid
from .protocol import Pair, Trial, TuningProtocol, run_fixed, run_protocol
from .slurm import write_slurm_array

__all__ = ['CSV_FIELDS', 'InProcessExecutor', 'Pair', 'Run', 'SubprocessExecutor', 'Trial',
           'TuningProtocol', 'collect', 'find_configs', 'is_finished', 'plan_grid',
           'read_scalars', 'run_fixed', 'run_local', 'run_protocol', 'summarize_metrics',
           'train_command', 'train_in_process', 'write_slurm_array']
