"""Grid planning, the local queue, the Slurm array writer and result collection."""
from .collect import CSV_FIELDS, collect, is_finished, read_scalars, summarize_metrics
from .local import run_local, train_command
from .plan import Run, find_configs, plan_grid
from .slurm import write_slurm_array

__all__ = ['CSV_FIELDS', 'Run', 'collect', 'find_configs', 'is_finished', 'plan_grid',
           'read_scalars', 'run_local', 'summarize_metrics', 'train_command', 'write_slurm_array']
