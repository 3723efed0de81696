"""Plan, run (locally or as a Slurm array), resume and collect a BOCB grid (code:
bocb_mm/cli/bocb_sweep.py).

    python tools/bocb_sweep.py run 'configs/cifar100/**/*.py' --backbones R-50 DeiT-S \\
        --seeds 0 1 --jobs 2 --work-root work_dirs/bocb
    python tools/bocb_sweep.py slurm 'configs/cifar100/**/*.py' --partition gpu
    python tools/bocb_sweep.py collect 'configs/cifar100/**/*.py' --out results.csv
"""
import os.path as osp
import signal
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone
from bocb_mm.cli.bocb_sweep import main  # noqa: E402

if __name__ == '__main__':
    # SIGTERM (a killed job, a cluster pre-emption) unwinds like Ctrl-C: running trainings are
    # stopped, their checkpoints stay, and the next `run` resumes them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
