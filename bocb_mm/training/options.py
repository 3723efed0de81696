"""The options of one training run, and their command line.

:class:`TrainOptions` is what every way of starting a run agrees on: ``tools/train.py`` reads
them from its command line (:func:`add_arguments`, :meth:`TrainOptions.from_namespace`), the
subprocess executor writes them back into one (:meth:`TrainOptions.to_argv`), the in-process
executor hands them to :func:`bocb_mm.training.train` directly. The two directions are one
table (:data:`_FLAGS`), so a new option cannot be parsed without also being written.

This module imports neither torch nor mmengine: planning a grid does not need them.
"""
from __future__ import annotations

import argparse
import dataclasses
import signal
from typing import Any, Mapping

__all__ = ['TrainOptions', 'add_arguments', 'render_cfg_value', 'STOPPED_EXIT']

#: Exit status of ``tools/train.py`` stopped by its ``stop_signal`` after a checkpoint
#: (``EX_TEMPFAIL``: try again later).
STOPPED_EXIT = 75

AMP_MODES = ('fp16', 'bf16')
COMPILE_MODES = ('default', 'reduce-overhead', 'max-autotune', 'max-autotune-no-cudagraphs')
LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """How to train one config (everything ``tools/train.py`` takes besides the config).

    Attributes:
        work_dir: Folder for logs and checkpoints (None: the config's, else
            ``./work_dirs/<config name>``).
        resume: ``'auto'`` resumes from the work dir's latest checkpoint, a path from that
            checkpoint; None starts anew.
        seed: ``randomness.seed`` (None: the config's).
        amp: Mixed precision, ``'fp16'`` (dynamic loss scale) or ``'bf16'``; None: full precision.
        compile: ``torch.compile`` mode of the train step; None: eager.
        channels_last: Model and batches in NHWC memory format.
        trim_convs: Same-padded convolutions skip the kernel taps that see only padding.
        cudnn_benchmark: Let cuDNN time and pick convolution algorithms.
        gpu_data: Batched augmentation on the device; the loader hands out uint8 images.
        auto_scale_lr: Scale the lr with the total batch size (``auto_scale_lr``).
        validate: Run validation during training.
        cfg_options: Config overrides (``{'optim_wrapper.optimizer.lr': 0.1}``), merged before
            anything else.
        launcher: mmengine's job launcher.
        stop_signal: On this signal (``'USR1'``), finish the epoch, checkpoint and stop
            (:class:`~bocb_mm.engine.StopOnSignalHook`; ``tools/train.py`` then exits 75).
    """

    work_dir: str | None = None
    resume: str | None = None
    seed: int | None = None
    amp: str | None = None
    compile: str | None = None
    channels_last: bool = False
    trim_convs: bool = False
    cudnn_benchmark: bool = False
    gpu_data: bool = False
    auto_scale_lr: bool = False
    validate: bool = True
    cfg_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    launcher: str = 'none'
    stop_signal: str | None = None

    def __post_init__(self) -> None:
        _check_choice('amp', self.amp, AMP_MODES)
        _check_choice('compile', self.compile, COMPILE_MODES)
        _check_choice('launcher', self.launcher, LAUNCHERS, optional=False)
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int)):
            raise TypeError(f'seed must be an int or None, got {self.seed!r}')
        if self.stop_signal is not None and not _is_signal(self.stop_signal):
            raise ValueError(f'stop_signal: unknown signal {self.stop_signal!r} (e.g. USR1)')
        object.__setattr__(self, 'cfg_options', dict(self.cfg_options))

    def __hash__(self) -> int:  # cfg_options is a dict: hash the options' text
        return hash(repr(self))

    def replace(self, **changes: Any) -> 'TrainOptions':
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def merged_cfg_options(self) -> dict[str, Any]:
        """The config overrides in the order they apply: the seed, then ``cfg_options``."""
        seed = {} if self.seed is None else {'randomness.seed': self.seed}
        return {**seed, **self.cfg_options}

    def to_argv(self) -> list[str]:
        """The ``tools/train.py`` arguments of these options (without the config).

        ``TrainOptions.from_namespace(parse(argv))`` gives these options back.

        Raises:
            ValueError: If a ``cfg_options`` value has no command-line form (a dict, or a
                string that would be read back as another type).
        """
        argv: list[str] = []
        for name, flag, kind in _FLAGS:
            value = getattr(self, name)
            if kind == 'value' and value is not None:
                argv += [flag, str(value)]
            elif kind == 'optional' and value is not None:
                argv += [flag] if value == _CONST[name] else [flag, value]
            elif kind == 'switch' and value:
                argv.append(flag)
            elif kind == 'negated' and not value:
                argv.append(flag)
        if self.launcher != 'none':
            argv += ['--launcher', self.launcher]
        if self.cfg_options:
            argv += ['--cfg-options'] + [f'{k}={render_cfg_value(v)}'
                                         for k, v in self.cfg_options.items()]
        return argv

    @classmethod
    def from_argv(cls, argv: list[str]) -> 'TrainOptions':
        """The options of ``tools/train.py`` arguments given without the config.

        Raises:
            SystemExit: argparse's error for an unknown or malformed argument.
        """
        parser = add_arguments(argparse.ArgumentParser(prog='tools/train.py CONFIG'))
        return cls.from_namespace(parser.parse_args(argv))

    @classmethod
    def from_namespace(cls, args: argparse.Namespace) -> 'TrainOptions':
        """The options of a parsed ``tools/train.py`` command line (see :func:`add_arguments`)."""
        return cls(work_dir=args.work_dir, resume=args.resume, seed=args.seed, amp=args.amp,
                   compile=args.compile, channels_last=args.channels_last,
                   trim_convs=args.trim_convs, cudnn_benchmark=args.cudnn_benchmark,
                   gpu_data=args.gpu_data, auto_scale_lr=args.auto_scale_lr,
                   validate=not args.no_validate, cfg_options=args.cfg_options or {},
                   launcher=args.launcher, stop_signal=args.stop_signal)


# (attribute, flag, kind): 'value' takes an argument, 'optional' an optional one (the flag alone
# means _CONST[attribute]), 'switch' is a store_true flag, 'negated' one that turns the option off
_FLAGS = (
    ('work_dir', '--work-dir', 'value'),
    ('resume', '--resume', 'optional'),
    ('seed', '--seed', 'value'),
    ('amp', '--amp', 'optional'),
    ('compile', '--compile', 'optional'),
    ('channels_last', '--channels-last', 'switch'),
    ('trim_convs', '--trim-convs', 'switch'),
    ('cudnn_benchmark', '--cudnn-benchmark', 'switch'),
    ('gpu_data', '--gpu-data', 'switch'),
    ('auto_scale_lr', '--auto-scale-lr', 'switch'),
    ('validate', '--no-validate', 'negated'),
    ('stop_signal', '--stop-signal', 'value'),
)
_CONST = {'resume': 'auto', 'amp': 'fp16', 'compile': 'default'}


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options of :class:`TrainOptions` to ``parser`` (``tools/train.py``'s flags)."""
    from mmengine.config import DictAction
    parser.add_argument('--work-dir', help='directory for logs and checkpoints')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or from the latest one in the '
                             'work_dir when no path is given')
    parser.add_argument('--seed', type=int, default=None,
                        help='random seed (randomness.seed; default: the config\'s)')
    parser.add_argument('--amp', nargs='?', const='fp16', choices=AMP_MODES, default=None,
                        help='automatic mixed precision: fp16 autocast with dynamic loss scale '
                             '(plain --amp), or bf16 autocast without loss scaling')
    parser.add_argument('--compile', nargs='?', const='default', default=None,
                        choices=COMPILE_MODES,
                        help="torch.compile the train step (mmengine's compile); optional mode")
    parser.add_argument('--channels-last', action='store_true',
                        help='model and input batches in channels_last (NHWC) memory format')
    parser.add_argument('--trim-convs', action='store_true',
                        help='same-padded convolutions skip the kernel taps that only see '
                             'padding on small feature maps (exact; bocb_mm.TrimPaddedConvsHook)')
    parser.add_argument('--cudnn-benchmark', action='store_true',
                        help='let cuDNN time and pick the convolution algorithms')
    parser.add_argument('--gpu-data', action='store_true',
                        help='batched augmentation on the device (docs/throughput.md): the '
                             'loader hands out raw uint8 images')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr linearly with the actual total batch size '
                             '(auto_scale_lr.base_batch_size in the config)')
    parser.add_argument('--no-validate', action='store_true', help='skip validation')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. optim_wrapper.optimizer.lr=0.1')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    parser.add_argument('--stop-signal', metavar='SIGNAL',
                        help='on this signal (e.g. USR1, as Slurm sends before a time limit or '
                             'a preemption), finish the epoch, save a checkpoint and exit 75; '
                             '--resume continues the run')
    return parser


def render_cfg_value(value: Any) -> str:
    """The ``--cfg-options`` text of ``value``, as mmengine's ``DictAction`` reads it back.

    Raises:
        ValueError: For a value ``DictAction`` cannot give back (a dict, a string that reads as
            a number, a bool or None, or that holds a comma or brackets).
    """
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ','.join(render_cfg_value(v) for v in value)
        if isinstance(value, list):
            return f'[{inner}]'
        return f'({inner},)' if len(value) == 1 else f'({inner})'
    if isinstance(value, str) and _reads_back_as_str(value):
        return value
    raise ValueError(f'config override value {value!r} has no --cfg-options form; '
                     'set it in the config file instead')


def _reads_back_as_str(text: str) -> bool:
    if not text or any(c in text for c in ',[]()"\' '):
        return False
    if text.lower() in ('true', 'false', 'none'):
        return False
    try:
        float(text)
    except ValueError:
        return True
    return False


def _is_signal(name: str) -> bool:
    key = name.upper() if name.upper().startswith('SIG') else f'SIG{name.upper()}'
    return key in signal.Signals.__members__


def _check_choice(name: str, value: str | None, choices: tuple[str, ...],
                  optional: bool = True) -> None:
    if (value is None and optional) or value in choices:
        return
    raise ValueError(f'{name} must be one of {", ".join(choices)}'
                     f'{" or None" if optional else ""}, got {value!r}')
