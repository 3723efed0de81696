"""The command lines of ``tools/``, as modules of the package.

Each ``tools/<path>/<name>.py`` is a thin wrapper: it puts the clone on ``sys.path`` and calls
``bocb_mm.cli.<name>.main``; the argument parsing and the logic live here, so tests and other
code import them instead of loading a script by its path.

=====================  ================================================
module                 command line
=====================  ================================================
``train``              ``tools/train.py`` (``dist_train.sh``, ``slurm_train.sh``)
``test``               ``tools/test.py`` (``dist_test.sh``)
``bocb_sweep``         ``tools/bocb_sweep.py``
``param_groups``       ``tools/analysis/param_groups.py``
``get_flops``          ``tools/analysis/get_flops.py``
``plot_curves``        ``tools/analysis/plot_curves.py``
``bocb_report``        ``tools/analysis/bocb_report.py``
``bocb_to_transfer``   ``tools/model_converters/bocb_to_transfer.py``
``prepare_cifar``      ``tools/dataset_converters/prepare_cifar.py``
``prepare_coco``       ``tools/dataset_converters/prepare_coco.py``
=====================  ================================================

The demo's command line, ``tools/bocb_demo.py``, is :mod:`bocb_mm.demo.cli`.

Importing this package imports nothing; each module imports what its command needs.
"""
