"""The demo: a tuned mini-BOCB on real data, end to end, in minutes on 2 CPU cores
(``tools/bocb_demo.py``, ``make demo``).

1. scikit-learn's handwritten digits (real 8x8 images) are written in the CIFAR on-disk format
   twice (:mod:`bocb_mm.datasets.digits`): a ``tune`` root (fit / validation split, carved out
   of the training images) and a ``final`` root (fit / test split);
2. every backbone x optimizer pair follows the tuning protocol (:mod:`bocb_mm.sweep.protocol`,
   ``docs/protocol.md``): an lr grid around the optimizer's typical lr (its mode in the study's
   CIFAR-100 table, :func:`bocb_mm.analysis.hparams.typical_hparams`), successive halving on
   the validation split, the chosen lr re-trained with fresh seeds on the same training images,
   test top-1 once at the end; ``--protocol paper`` instead trains each pair once per seed with
   the paper's lr and weight decay for the backbone the mini backbone stands for;
3. runs train in long-lived worker processes, one per job slot, each building many mmengine
   Runners (:mod:`bocb_mm.sweep.inprocess`); ``--executor subprocess`` runs ``tools/train.py``
   per run instead, ``--executor slurm`` each step of the protocol as one Slurm job array
   (:mod:`bocb_mm.sweep.slurm_executor`);
4. the report (BOCB table, final table with bootstrap CIs, coupling differences beyond their
   CIs, lr-sensitivity figures, summary.json) is written to ``OUT/report``.

A rerun reuses a run only when its record's fingerprint (its config, seed and arguments) is the
new run's: a rerun with other arguments (``--epochs 6``) trains anew, the old run's folder moved
aside to ``<work_dir>.replaced-<fingerprint>`` with a warning. One demo at a time per ``--out``.

Modules: :mod:`.planning` (mini backbones, protocol settings, pairs, each trial's config and
run), :mod:`.run` (training, results and report), :mod:`.output` (the output folder's marker),
:mod:`.cli` (the command line).
"""
