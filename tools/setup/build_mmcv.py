"""Build (or fetch from the cache) an mmcv wheel with compiled ops for the torch in this env.

mmcv publishes no wheel for recent torch releases on PyPI, so the set-up builds mmcv from its
source distribution. Two fixes are applied to that source, each only when it is needed:

* The C++ standard. mmcv 2.1.0's ``setup.py`` hard-codes ``-std=c++17``; torch >= 2.10 headers
  refuse anything below C++20 (``ATen/ATen.h``: "C++20 or later compatible compiler is
  required"). The standard is read from the installed torch's own headers and the flag is raised
  to match, so an older torch keeps mmcv's original flags.
* Build isolation. An isolated build cannot import torch and silently skips the ops ("Skip
  building ext ops"), so the wheel is built with ``--no-build-isolation`` in the target env.

The wheel is cached under ``$BOCB_CACHE`` (default ``~/.cache/bocb_mm``) keyed by mmcv, torch,
Python and device (cpu, or the CUDA version and GPU architectures), so CI and later sessions on
the same machine reuse it.

Build variables (read from the environment, resolved, printed before the build):

* ``MMCV_WITH_OPS``: always 1 (mmdet and mmpose need ``mmcv.ops``); another value is refused.
* ``FORCE_CUDA``: 1 builds the CUDA ops. Default (mmcv's own rule): 1 when torch sees a GPU,
  else 0 (CPU ops only; the build then hides the GPUs, which mmcv's ``setup.py`` would use
  anyway); set it to 1 on a build machine without a GPU. A CUDA build needs a CUDA
  torch and ``nvcc`` (``$CUDA_HOME/bin/nvcc``, as torch's extension builder finds it); without
  them it is refused with the fix.
* ``TORCH_CUDA_ARCH_LIST``: the GPU architectures of the CUDA ops, e.g. ``9.0`` (H100 / H200),
  ``8.0`` (A100), ``8.6`` (RTX 30xx / A40), ``8.9`` (L4 / L40 / RTX 40xx), ``"8.0;9.0"`` for
  several. Default: those of the visible GPUs; a CUDA build with no GPU visible (a login node)
  must set it.

Usage: ``python tools/setup/build_mmcv.py [--version 2.1.0]``; prints the wheel path last.
``--print-flags`` prints the resolved build variables and exits.
``--prepare-only`` takes the same source path up to the compiler (download, C++-standard patch,
mmcv's metadata step in this environment), prints the prepared source folder and exits 0: CI runs
it every time, so a broken source path shows even while a cached wheel hides it.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path
from typing import Mapping


def cache_dir() -> Path:
    return Path(os.environ.get('BOCB_CACHE', Path.home() / '.cache' / 'bocb_mm'))


def torch_cxx_standard() -> int:
    """The C++ standard the installed torch's headers require (17 or 20)."""
    import torch
    aten = Path(torch.__file__).parent / 'include' / 'ATen' / 'ATen.h'
    text = aten.read_text() if aten.exists() else ''
    return 20 if '__cplusplus < 202002L' in text else 17


class SetupError(RuntimeError):
    """The environment cannot take mmcv's source path; the message says what to do."""


def _visible_gpu_archs() -> list[str]:
    """``major.minor`` compute capabilities of the GPUs torch sees, sorted, without repeats."""
    import torch
    if not torch.cuda.is_available():
        return []
    caps = {torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())}
    return [f'{major}.{minor}' for major, minor in sorted(caps)]


def _cuda_home() -> str | None:
    """The CUDA toolkit torch's extension builder uses, if it holds ``bin/nvcc``."""
    from torch.utils.cpp_extension import CUDA_HOME
    return CUDA_HOME if CUDA_HOME and (Path(CUDA_HOME) / 'bin' / 'nvcc').exists() else None


def _force_cuda(env: Mapping[str, str], torch_cuda: str | None, gpus: list[str]) -> str:
    """Resolve ``FORCE_CUDA`` (the module docstring); raise SetupError for what cannot build."""
    force = env.get('FORCE_CUDA')
    if force not in (None, '0', '1'):
        raise SetupError(f'FORCE_CUDA={force!r}: expected 0 or 1')
    cuda = force == '1' or (force is None and bool(gpus))
    if not cuda:
        return '0'
    if torch_cuda is None:
        raise SetupError('FORCE_CUDA=1 but the installed torch is a CPU build: install a CUDA '
                         'torch first (make setup PYTHON=... keeps the torch it finds)')
    if _cuda_home() is None:
        raise SetupError(
            f'a CUDA build ({"FORCE_CUDA=1" if force == "1" else "torch sees a GPU"}) needs the '
            f'CUDA {torch_cuda} toolkit: install it and set CUDA_HOME ($CUDA_HOME/bin/nvcc), or '
            'build the CPU ops only with CUDA_VISIBLE_DEVICES= FORCE_CUDA=0')
    return '1'


def build_flags(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """mmcv's build variables for this environment (``MMCV_WITH_OPS``, ``FORCE_CUDA``, and
    ``TORCH_CUDA_ARCH_LIST`` for a CUDA build), resolved as the module docstring says.

    Args:
        env: The environment to read (default ``os.environ``).

    Returns:
        The variables to set for mmcv's ``setup.py``.

    Raises:
        SetupError: For a value that cannot build (the message says what to set).
    """
    import torch
    env = os.environ if env is None else env
    if env.get('MMCV_WITH_OPS', '1') != '1':
        raise SetupError(f'MMCV_WITH_OPS={env["MMCV_WITH_OPS"]!r}: bocb_mm needs mmcv\'s compiled '
                         'ops (mmcv.ops, used by mmdet and mmpose); unset it or set 1')
    gpus = _visible_gpu_archs()
    flags = dict(MMCV_WITH_OPS='1', FORCE_CUDA=_force_cuda(env, torch.version.cuda, gpus))
    if flags['FORCE_CUDA'] == '1':
        archs = env.get('TORCH_CUDA_ARCH_LIST') or ';'.join(gpus)
        if not archs:
            raise SetupError('a CUDA build with no GPU visible: set TORCH_CUDA_ARCH_LIST to the '
                             'GPUs that will run it, e.g. 9.0 (H100 / H200), 8.0 (A100), '
                             '"8.0;9.0" for both')
        flags['TORCH_CUDA_ARCH_LIST'] = archs
    return flags


def wheel_key(version: str, flags: Mapping[str, str]) -> str:
    """The cache key of a wheel: mmcv, torch, Python and device (CUDA version and archs)."""
    import torch
    device = 'cpu'
    if flags.get('FORCE_CUDA') == '1':
        archs = re.sub(r'[^0-9A-Za-z+]+', '-', flags['TORCH_CUDA_ARCH_LIST']).strip('-')
        device = f'cu{torch.version.cuda}_sm-{archs}'
    py = f'py{sys.version_info.major}{sys.version_info.minor}'
    return f'mmcv-{version}_torch-{torch.__version__.replace("+", "-")}_{py}_{device}'


def describe(flags: Mapping[str, str]) -> str:
    """One line: the build variables and the torch / CUDA they were resolved for."""
    import torch
    where = f'torch {torch.__version__}'
    if flags.get('FORCE_CUDA') == '1':
        where += f', CUDA_HOME={_cuda_home()}'
    return ' '.join(f'{k}={v}' for k, v in flags.items()) + f' ({where})'


def log(msg: str, start: float | None = None) -> None:
    tail = f' ({time.time() - start:.0f} s)' if start is not None else ''
    print(f'[build_mmcv] {msg}{tail}', file=sys.stderr, flush=True)  # stdout: the result


def patch_cxx_standard(setup_py: Path, std: int) -> None:
    """Raise mmcv's hard-coded ``-std=c++17`` to the standard torch needs."""
    if std <= 17:
        return
    text = setup_py.read_text()
    patched = re.sub(r'std[=:]c\+\+17', f'std=c++{std}', text)
    setup_py.write_text(patched)
    log(f'patched {setup_py.name}: -std=c++17 -> -std=c++{std} (torch headers need C++{std})')


def require_pkg_resources(version: str) -> None:
    """mmcv's ``setup.py`` imports ``pkg_resources``, which setuptools 82 removed."""
    try:
        with warnings.catch_warnings():  # its own deprecation notice is not news here
            warnings.simplefilter('ignore')
            import pkg_resources  # noqa: F401
    except ImportError:
        try:
            import setuptools
            have = f'setuptools {setuptools.__version__}'
        except ImportError:
            have = 'no setuptools'
        raise SetupError(
            f"'import pkg_resources' fails in {sys.executable} ({have}); mmcv {version}'s setup.py "
            "needs it and setuptools 82 removed it. Fix: "
            f"{sys.executable} -m pip install 'setuptools>=77.0.3,<82'") from None


def mmcv_env(flags: Mapping[str, str], jobs: str | None = None) -> dict[str, str]:
    """The environment of mmcv's ``setup.py``: this one plus the build variables.

    With ``FORCE_CUDA=0`` the GPUs are hidden from the build, since mmcv's ``setup.py`` builds
    the CUDA ops whenever torch sees a GPU.
    """
    env = {**os.environ, **flags}
    if flags.get('FORCE_CUDA') == '0':
        env['CUDA_VISIBLE_DEVICES'] = ''
    if jobs:
        env['MAX_JOBS'] = jobs
    return env


def prepare_source(version: str, workdir: Path) -> Path:
    """Download mmcv's sdist into ``workdir``, unpack it and patch its C++ standard."""
    log(f'downloading mmcv=={version} source')
    subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--no-binary',
                    ':all:', '--no-build-isolation', f'mmcv=={version}', '-d', str(workdir)],
                   check=True)
    sdist = next(workdir.glob(f'mmcv-{version}.tar.gz'))
    with tarfile.open(sdist) as tar:
        tar.extractall(workdir, filter='data')
    src = workdir / f'mmcv-{version}'
    patch_cxx_standard(src / 'setup.py', torch_cxx_standard())
    return src


def prepare_only(version: str) -> Path:
    """The source path up to the compiler; returns the prepared source folder (kept)."""
    require_pkg_resources(version)
    flags = build_flags()
    log(f'build flags: {describe(flags)}')
    workdir = cache_dir() / 'src' / wheel_key(version, flags)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    src = prepare_source(version, workdir)
    start = time.time()
    subprocess.run([sys.executable, 'setup.py', '-q', 'egg_info'], cwd=src, check=True,
                   env=mmcv_env(flags))
    log('metadata step (setup.py egg_info) passed', start)
    return src


def build(version: str) -> Path:
    flags = build_flags()
    log(f'build flags: {describe(flags)}')
    out_dir = cache_dir() / 'wheels' / wheel_key(version, flags)
    cached = sorted(out_dir.glob('mmcv-*.whl'))
    if cached:
        log(f'cached wheel: {cached[-1]}')
        return cached[-1]
    require_pkg_resources(version)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    with tempfile.TemporaryDirectory(prefix='mmcv-build-') as tmp:
        src = prepare_source(version, Path(tmp))
        jobs = os.environ.get('MAX_JOBS', str(os.cpu_count() or 1))
        cuda = flags['FORCE_CUDA'] == '1'
        log(f'compiling mmcv ops ({"cuda" if cuda else "cpu"}, MAX_JOBS={jobs}); this takes '
            f'about 25 minutes on 2 cores{" for the CPU ops, more with CUDA" if cuda else ""}')
        subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                        '-w', str(out_dir), str(src)], check=True,
                       env=mmcv_env(flags, jobs))
    wheel = next(out_dir.glob('mmcv-*.whl'))
    log(f'built {wheel}', start)
    return wheel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--version', default='2.1.0')
    parser.add_argument('--prepare-only', action='store_true',
                        help='download, patch and run the metadata step; print the source folder')
    parser.add_argument('--print-flags', action='store_true',
                        help='print the resolved build variables (MMCV_WITH_OPS, FORCE_CUDA, '
                             'TORCH_CUDA_ARCH_LIST) and exit')
    args = parser.parse_args()
    try:
        if args.print_flags:
            print(describe(build_flags()))
        else:
            print(prepare_only(args.version) if args.prepare_only else build(args.version))
    except SetupError as err:
        sys.exit(f'[build_mmcv] error: {err}')


if __name__ == '__main__':
    main()
