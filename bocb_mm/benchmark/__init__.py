"""Benchmarks of the training path, as modules (``tools/benchmark/*.py`` are thin wrappers).

* :mod:`.train_throughput` - images/s of 1..N packed training runs and the per-iteration
  data / preprocess / forward-backward / optimizer times (``tools/benchmark/train_throughput.py``).
* :mod:`.optimizer_step` - one optimizer step of the paper's 20 optimizers against every
  installed peer implementation (``tools/benchmark/optimizer_step.py``).

Importing this package imports nothing; each module imports what its benchmark needs.
"""
