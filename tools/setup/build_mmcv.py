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
Python and device (cpu / cuda version), so CI and later sessions on the same machine reuse it.
On a machine with CUDA (or with ``FORCE_CUDA=1``) mmcv's setup builds the CUDA ops as well.

Usage: ``python tools/setup/build_mmcv.py [--version 2.1.0]``; prints the wheel path last.
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


def cache_dir() -> Path:
    return Path(os.environ.get('BOCB_CACHE', Path.home() / '.cache' / 'bocb_mm'))


def torch_cxx_standard() -> int:
    """The C++ standard the installed torch's headers require (17 or 20)."""
    import torch
    aten = Path(torch.__file__).parent / 'include' / 'ATen' / 'ATen.h'
    text = aten.read_text() if aten.exists() else ''
    return 20 if '__cplusplus < 202002L' in text else 17


def with_cuda() -> bool:
    import torch
    return torch.cuda.is_available() or os.environ.get('FORCE_CUDA', '0') == '1'


def wheel_key(version: str) -> str:
    import torch
    device = f'cu{torch.version.cuda}' if with_cuda() and torch.version.cuda else 'cpu'
    py = f'py{sys.version_info.major}{sys.version_info.minor}'
    return f'mmcv-{version}_torch-{torch.__version__.replace("+", "-")}_{py}_{device}'


def log(msg: str, start: float | None = None) -> None:
    tail = f' ({time.time() - start:.0f} s)' if start is not None else ''
    print(f'[build_mmcv] {msg}{tail}', flush=True)


def patch_cxx_standard(setup_py: Path, std: int) -> None:
    """Raise mmcv's hard-coded ``-std=c++17`` to the standard torch needs."""
    if std <= 17:
        return
    text = setup_py.read_text()
    patched = re.sub(r'std[=:]c\+\+17', f'std=c++{std}', text)
    setup_py.write_text(patched)
    log(f'patched {setup_py.name}: -std=c++17 -> -std=c++{std} (torch headers need C++{std})')


class SetupError(RuntimeError):
    """The environment cannot take mmcv's source path; the message says what to do."""


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


def mmcv_env(jobs: str | None = None) -> dict[str, str]:
    env = {**os.environ, 'MMCV_WITH_OPS': '1'}
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
    workdir = cache_dir() / 'src' / wheel_key(version)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    src = prepare_source(version, workdir)
    start = time.time()
    subprocess.run([sys.executable, 'setup.py', '-q', 'egg_info'], cwd=src, check=True,
                   env=mmcv_env())
    log('metadata step (setup.py egg_info) passed', start)
    return src


def build(version: str) -> Path:
    out_dir = cache_dir() / 'wheels' / wheel_key(version)
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
        log(f'compiling mmcv ops ({"cuda" if with_cuda() else "cpu"}, MAX_JOBS={jobs}); '
            'this takes about 25 minutes on 2 cores')
        subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                        '-w', str(out_dir), str(src)], check=True,
                       env=mmcv_env(jobs))
    wheel = next(out_dir.glob('mmcv-*.whl'))
    log(f'built {wheel}', start)
    return wheel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--version', default='2.1.0')
    parser.add_argument('--prepare-only', action='store_true',
                        help='download, patch and run the metadata step; print the source folder')
    args = parser.parse_args()
    try:
        print(prepare_only(args.version) if args.prepare_only else build(args.version))
    except SetupError as err:
        sys.exit(f'[build_mmcv] error: {err}')


if __name__ == '__main__':
    main()
