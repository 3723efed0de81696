"""Put CIFAR-100 (or CIFAR-10) where the configs expect it, in the official on-disk format.

    # download the official archive (needs network) and unpack it to data/cifar100/
    python tools/dataset_converters/prepare_cifar.py --out data/cifar100
    # or unpack an archive you already have
    python tools/dataset_converters/prepare_cifar.py --out data/cifar100 \
        --from-archive ~/Downloads/cifar-100-python.tar.gz
    # or write a tiny synthetic set in the same format (tests, demo, smoke runs); without
    # --out it goes to data/cifar100_synthetic, never to the real set's data/cifar100
    python tools/dataset_converters/prepare_cifar.py --out data/cifar100_tiny --synthetic 40 20

No command replaces a folder that already holds a data set (official, synthetic or partial): it
stops and names the folder; ``--force`` overwrites it.

Layout produced (what mmpretrain's ``CIFAR100`` reads)::

    <out>/cifar-100-python/{train,test,meta}      (CIFAR-10: <out>/cifar-10-batches-py/)

The official archive is checked against its published MD5 sum, and so are the unpacked files
(mmpretrain's ``CIFAR100`` checks them again on every load). A synthetic set cannot match those
sums: read it with ``type='bocb_mm.UnverifiedCIFAR100'`` (see docs/datasets.md).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import os.path as osp
import shutil
import sys
import tarfile
import tempfile
import urllib.request

from bocb_mm.utils.fileio import refuse_overwrite

# The official archives and the MD5 sums mmpretrain's CIFAR classes check.
ARCHIVES = {
    'cifar100': dict(url='https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz',
                     md5='eb9058c3a382ffc7106e4002c42a8d85', folder='cifar-100-python',
                     files={'train': '16019d7e3df5f24257cddd939b257f8d',
                            'test': 'f0ef6b0ae62326f3e7ffdfab6717acfc',
                            'meta': '7973b15100ade9c7d40fb424638fde48'}),
    'cifar10': dict(url='https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz',
                    md5='c58f30108f718f92721af3b95e74349a', folder='cifar-10-batches-py',
                    files={'data_batch_1': 'c99cafc152244af753f735de768cd75f',
                           'data_batch_2': 'd4bba439e000b95fd0a9bffe97cbabec',
                           'data_batch_3': '54ebc095f3ab1f0389bbae665268c751',
                           'data_batch_4': '634d18415352ddfa80567beed471001a',
                           'data_batch_5': '482c414d41f54cd18b22e5b47cb7c3cb',
                           'test_batch': '40351d587109b95175f43aff81a1287e',
                           'batches.meta': '5ff9c542aee3614f3951f8cda6e48888'}),
}


def md5sum(path: str, chunk: int = 1 << 20) -> str:
    """The MD5 hex digest of a file, read ``chunk`` bytes at a time."""
    h = hashlib.md5()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()


def verify(out: str, dataset: str) -> list[str]:
    """Files of ``<out>/<folder>`` that are missing or differ from the official ones."""
    spec = ARCHIVES[dataset]
    bad = []
    for name, md5 in spec['files'].items():
        path = osp.join(out, spec['folder'], name)
        if not osp.isfile(path) or md5sum(path) != md5:
            bad.append(path)
    return bad


def download(url: str, dst: str) -> None:
    """Copy ``url`` to the file ``dst``."""
    print(f'Downloading {url} -> {dst}')
    with urllib.request.urlopen(url, timeout=60) as response, open(dst, 'wb') as f:
        shutil.copyfileobj(response, f)


def extract(archive: str, out: str, dataset: str, check_md5: bool = True) -> None:
    """Unpack the data set's folder of ``archive`` into ``out`` (regular files and folders only).

    Raises:
        SystemExit: the archive's MD5 is not the official one (with ``check_md5``), or it has no
            such folder.
    """
    spec = ARCHIVES[dataset]
    if check_md5:
        got = md5sum(archive)
        if got != spec['md5']:
            raise SystemExit(f'error: {archive} has MD5 {got}, the official {dataset} archive has '
                             f'{spec["md5"]} (use --no-check to unpack it anyway)')
    os.makedirs(out, exist_ok=True)
    with tarfile.open(archive, 'r:gz') as tar:
        members = [m for m in tar.getmembers()
                   if m.name.split('/')[0] == spec['folder'] and '..' not in m.name.split('/')
                   and (m.isfile() or m.isdir())]
        if not members:
            raise SystemExit(f'error: {archive} has no {spec["folder"]}/ folder')
        if hasattr(tarfile, 'data_filter'):  # Python >= 3.11.4: refuse links / odd paths
            tar.extractall(out, members=members, filter='data')
        else:  # pragma: no cover
            tar.extractall(out, members=members)
    print(f'Unpacked {archive} -> {osp.join(out, spec["folder"])}')


SYNTHETIC_ROOT = osp.join('data', 'cifar100_synthetic')


def count(text: str) -> int:
    """An argparse type: an image count >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'{value} images: a split needs at least 1')
    return value


def default_out(args: argparse.Namespace) -> str:
    """``--out``, else the data set's default root; a synthetic set never defaults onto the real
    set's root (data/cifar100), where the configs look for the official CIFAR-100."""
    if args.out:
        return args.out
    return SYNTHETIC_ROOT if args.synthetic else osp.join('data', args.dataset)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', choices=sorted(ARCHIVES), default='cifar100')
    parser.add_argument('--out', default=None,
                        help='data root (default: data/cifar100 or data/cifar10; '
                             f'{SYNTHETIC_ROOT} with --synthetic)')
    src = parser.add_mutually_exclusive_group()
    src.add_argument('--from-archive', metavar='PATH',
                     help='unpack this cifar-*-python.tar.gz instead of downloading')
    src.add_argument('--synthetic', nargs=2, type=count, metavar=('N_TRAIN', 'N_TEST'),
                     help='write a random CIFAR-100 of this size in the official format')
    src.add_argument('--check', action='store_true',
                     help='only check that <out> holds the official files')
    parser.add_argument('--no-check', action='store_true',
                        help='skip the MD5 check of the archive')
    parser.add_argument('--seed', type=int, default=0, help='seed of --synthetic')
    parser.add_argument('--force', action='store_true',
                        help='overwrite <out>/cifar-*-python even if it already holds a data set')
    return parser.parse_args(argv)


def guard(folder: str, force: bool, what: str) -> None:
    """Stop (exit 1, naming ``folder`` and ``--force``) before replacing a data set."""
    try:
        refuse_overwrite(folder, force, what)
    except FileExistsError as err:
        raise SystemExit(f'error: {err}') from None


def main(argv: list[str] | None = None) -> int:
    """Run the tool; return the exit status (``--check``: 1 when a file differs)."""
    args = parse_args(argv)
    out = default_out(args)
    spec = ARCHIVES[args.dataset]
    folder = osp.join(out, spec['folder'])
    if args.synthetic:
        if args.dataset != 'cifar100':
            raise SystemExit('error: --synthetic writes CIFAR-100 only')
        guard(folder, args.force, 'a synthetic CIFAR-100')
        from bocb_mm.datasets.cifar_writer import random_cifar
        folder = random_cifar(out, *args.synthetic, seed=args.seed)
        print(f'Wrote a synthetic CIFAR-100 ({args.synthetic[0]} train / {args.synthetic[1]} '
              f"test images) to {folder}; read it with type='bocb_mm.UnverifiedCIFAR100'")
        return 0
    if args.check:
        bad = verify(out, args.dataset)
        for path in bad:
            print(f'missing or not the official file: {path}')
        print('OK' if not bad else f'{len(bad)} file(s) differ')
        return int(bool(bad))
    if not verify(out, args.dataset):
        print(f'{folder} already holds the official {args.dataset}')
        return 0
    guard(folder, args.force, f'the official {args.dataset}')
    if args.from_archive:
        extract(args.from_archive, out, args.dataset, check_md5=not args.no_check)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            archive = osp.join(tmp, osp.basename(spec['url']))
            try:
                download(spec['url'], archive)
            except OSError as err:
                raise SystemExit(f'error: download failed ({err}); fetch {spec["url"]} '
                                 'elsewhere and pass it with --from-archive PATH')
            extract(archive, out, args.dataset, check_md5=not args.no_check)
    bad = [] if args.no_check else verify(out, args.dataset)
    if bad:
        raise SystemExit(f'error: unpacked files differ from the official ones: {bad}')
    print(f'OK: {osp.join(out, spec["folder"])}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
