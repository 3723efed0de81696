"""The BOCB optimizer zoo: the paper's 20 optimizers, their metadata and mmengine configs.

This table is the single source of truth for which optimizers the study uses, in which order, in
which category and with which fixed arguments; configs, sweeps, analysis and tests read it through
:func:`list_optimizers`, :func:`get_info` and :func:`optimizer_cfg`.

Besides the paper's 20 (``suite='paper'``, the default of :func:`list_optimizers`), the zoo knows a
``'post-paper'`` extension suite: optimizers published after the study (Muon, Kron, MARS, ADOPT,
SOAP, AdEMAMix, Schedule-Free AdamW, Cautious AdamW), each the class of a pinned library
(``OptimizerInfo.requirement``) registered as ``type='bocb_mm.<class_name>'`` by
:mod:`bocb_mm.optim.extensions`; their metadata is in :mod:`bocb_mm.optim.extension_facts`.
:func:`get_info` finds both suites; :func:`list_optimizers` lists the paper's 20 unless asked.

* Torch's own classes serve SGD-M (``SGD`` with ``momentum=0.9``), Adam, Adamax, NAdam, AdamW,
  RAdam, AdaGrad (``Adagrad``), AdaDelta (``Adadelta``) and RMSProp (``RMSprop``). mmengine
  registers them in its root ``OPTIMIZERS`` registry, so their config type is the plain class
  name, reachable from any default scope (mmpretrain, mmdet, mmpose or none).
* The 11 others are ``bocb_mm`` classes, registered in the ``bocb_mm`` scope and addressed as
  ``type='bocb_mm.<Class>'``, which never clashes with a same-named class of another scope (e.g.
  mmengine registers ``lion_pytorch.Lion`` as ``Lion`` in its root when that package is
  installed).

Categories follow the paper's optimizer table ("Four categories of typical optimizers with their
components", arXiv:2410.06373), whose rows run from (a) to (d) top to bottom: (a) SGD-M, SGDP,
LION; (b) Adam, Adamax, AdamW, AdamP, LAMB, NAdam, RAdam, Adan; (c) AdaBelief, AdaBound, AdaFactor,
LARS, NovoGrad, Sophia; (d) AdaGrad, AdaDelta, RMSProp. AdaBound's row sits between AdaBelief and
AdaFactor, so it belongs to (c), not to (b) as the results tables' row order might suggest.

``weight_decay`` records what the class used here does (``'coupled'``: an L2 term added to the
gradient; ``'decoupled'``: the decay bypasses the adaptive scaling). The paper's table marks some
optimizers "Decoupled" whose reference implementations (and these classes) add an L2 term:
RAdam (torch's default), AdaBound (official code) and LARS (timm; the term is added before the
trust ratio).

``state_tensors`` counts the optimizer state tensors of a parameter's size (scalars excluded) for
a weight matrix under the zoo's defaults; AdaFactor keeps 0 for a matrix (factored row and column
statistics) but 1 for vectors.
"""
from __future__ import annotations

import csv
import enum
import functools
import importlib
import inspect
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from .extension_facts import BOCB_CONSTRUCTOR
from .extension_facts import EXTENSIONS as _EXTENSIONS
from .zoo_facts import FACTS as _FACTS

__all__ = ['Category', 'OptimizerInfo', 'UnknownOptimizerError', 'list_optimizers', 'get_info',
           'optimizer_cfg', 'wrapper_cfg', 'resolve_name', 'study_hparams',
           'recommended_hparams', 'SUITES', 'BOCB_CONSTRUCTOR']

#: The zoo's suites: the paper's 20 optimizers, the post-paper extension suite, or both.
SUITES = ('paper', 'post-paper', 'all')


class Category(str, enum.Enum):
    """The paper's four optimizer categories (its optimizer table, top to bottom)."""

    FIXED_LR = '(a) fixed lr, momentum gradient'
    ADAPTIVE_LR = '(b) adaptive lr, momentum gradient'
    ESTIMATED_LR = '(c) estimated lr, momentum gradient'
    ADAPTIVE_LR_CURRENT_GRAD = '(d) adaptive lr, current gradient'

    def __str__(self) -> str:
        return self.value


class UnknownOptimizerError(KeyError, ValueError):
    """An optimizer name the zoo does not know (both a ``KeyError`` and a ``ValueError``)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ''


@dataclass(frozen=True)
class OptimizerInfo:
    """Metadata of one of the paper's optimizers.

    Attributes:
        name: The paper's spelling, e.g. ``'SGD-M'``, ``'AdaFactor'``.
        type: The mmengine config type, e.g. ``'SGD'`` or ``'bocb_mm.Adan'``.
        module: Python module of the class.
        class_name: Name of the class in ``module``.
        category: The paper's category.
        venue: Venue and year as the paper's optimizer table gives them.
        paper: Title of the paper introducing the optimizer.
        arxiv: arXiv identifier, or None when the paper is not on arXiv.
        code: Official code (or, for torch's classes, the implementation used).
        weight_decay: ``'coupled'`` or ``'decoupled'``, as the class implements it.
        state_tensors: Full-size state tensors per (matrix) parameter under ``defaults``.
        defaults: Fixed arguments the paper's configs use besides lr and weight decay.
        aliases: Other accepted names (matched case-insensitively, '-', '_' and spaces ignored).
        wrapper: The optim wrapper type its configs use (``'bocb_mm.SophiaOptimWrapper'`` for
            Sophia, which needs the periodic Hessian refresh; else ``'OptimWrapper'``).
        update_rule: One step of the update, in LaTeX (``\\\\`` between lines).
        hparams: Convention of every constructor argument (except ``params`` and the flags of
            ``zoo_facts.IMPLEMENTATION_FLAGS``); defaults come from the class signature.
        pitfalls: Known traps (fp16 eps, sign updates, factored moments, ...).
        suite: ``'paper'`` (the study's 20) or ``'post-paper'`` (the extension suite).
        requirement: The pinned pip package whose class this is (``'timm==1.0.31'``), or None
            for torch's and bocb_mm's own classes.
        constructor: The optim wrapper constructor its configs need (Muon:
            :data:`BOCB_CONSTRUCTOR`, whose routing sends the head, norms, ... to the AdamW
            fallback), or None (any constructor; :func:`wrapper_cfg` sets none).

    ``wrapper``, ``update_rule``, ``hparams`` and ``pitfalls`` come from
    :mod:`bocb_mm.optim.zoo_facts`; the cards in ``docs/optimizers/`` are generated from them.
    """

    name: str
    type: str
    module: str
    class_name: str
    category: Category
    venue: str
    paper: str
    arxiv: str | None
    code: str
    weight_decay: str
    state_tensors: int
    defaults: Mapping[str, Any] = field(default_factory=dict, hash=False)
    aliases: tuple[str, ...] = ()
    wrapper: str = 'OptimWrapper'
    update_rule: str = ''
    hparams: Mapping[str, str] = field(default_factory=dict, hash=False)
    pitfalls: tuple[str, ...] = ()
    suite: str = 'paper'
    requirement: str | None = None
    constructor: str | None = None

    @property
    def cls(self) -> type:
        """The optimizer class (imported on first access).

        Raises:
            ImportError: If the library that provides it (``requirement``) is not installed,
                naming the pip package.
        """
        try:
            return getattr(importlib.import_module(self.module), self.class_name)
        except (ImportError, AttributeError) as err:
            if self.requirement is None:
                raise
            raise ImportError(missing_library_message(self.name, self.type,
                                                      self.requirement)) from err

    @property
    def is_torch(self) -> bool:
        """Whether the class is one of torch's own optimizers."""
        return self.module == 'torch.optim'


def missing_library_message(name: str, type_: str, requirement: str) -> str:
    """The error of an extension optimizer whose library is not installed."""
    return (f"{name} (type='{type_}') is the class of {requirement.split('==')[0]}, which is not "
            f"installed: pip install '{requirement}' (pinned in requirements/runtime.txt)")


def _torch(name: str, cls: str, category: Category, venue: str, paper: str, arxiv: str | None,
           wd: str, n_state: int, defaults: Mapping[str, Any] | None = None,
           aliases: tuple[str, ...] = ()) -> OptimizerInfo:
    return OptimizerInfo(
        name=name, type=cls, module='torch.optim', class_name=cls, category=category,
        venue=venue, paper=paper, arxiv=arxiv,
        code=f'https://pytorch.org/docs/stable/generated/torch.optim.{cls}.html',
        weight_decay=wd, state_tensors=n_state, defaults=MappingProxyType(dict(defaults or {})),
        aliases=aliases)


def _ours(name: str, module: str, cls: str, category: Category, venue: str, paper: str,
          arxiv: str | None, code: str, wd: str, n_state: int,
          defaults: Mapping[str, Any] | None = None,
          aliases: tuple[str, ...] = ()) -> OptimizerInfo:
    return OptimizerInfo(
        name=name, type=f'bocb_mm.{cls}', module=f'bocb_mm.optim.{module}', class_name=cls,
        category=category, venue=venue, paper=paper, arxiv=arxiv, code=code, weight_decay=wd,
        state_tensors=n_state, defaults=MappingProxyType(dict(defaults or {})), aliases=aliases)


_A, _B, _C, _D = (Category.FIXED_LR, Category.ADAPTIVE_LR, Category.ESTIMATED_LR,
                  Category.ADAPTIVE_LR_CURRENT_GRAD)
_ADAM = 'Adam: A Method for Stochastic Optimization'
_ADAMP = 'AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant Weights'

# The paper's order (rows of its results tables).
_ZOO: tuple[OptimizerInfo, ...] = (
    _torch('SGD-M', 'SGD', _A, "TSMC'1971",
           'Some methods of speeding up the convergence of iteration methods (heavy-ball '
           'momentum, Polyak 1964)', None, 'coupled', 1, dict(momentum=0.9),
           aliases=('SGD', 'SGDM', 'momentum')),
    _ours('SGDP', 'sgdp', 'SGDP', _A, "ICLR'2021", _ADAMP, '2006.08217',
          'https://github.com/clovaai/AdamP', 'decoupled', 1, dict(momentum=0.9)),
    _ours('LION', 'lion', 'Lion', _A, "NeurIPS'2023", 'Symbolic Discovery of Optimization '
          'Algorithms', '2302.06675', 'https://github.com/google/automl/tree/master/lion',
          'decoupled', 1),
    _torch('Adam', 'Adam', _B, "ICLR'2015", _ADAM, '1412.6980', 'coupled', 2),
    _torch('Adamax', 'Adamax', _B, "ICLR'2015", _ADAM, '1412.6980', 'coupled', 2),
    _torch('NAdam', 'NAdam', _B, "ICLR'2016 (workshop)", 'Incorporating Nesterov Momentum into '
           'Adam', None, 'coupled', 2),
    _torch('AdamW', 'AdamW', _B, "ICLR'2019", 'Decoupled Weight Decay Regularization',
           '1711.05101', 'decoupled', 2),
    _ours('LAMB', 'lamb', 'LAMB', _B, "ICLR'2020", 'Large Batch Optimization for Deep Learning: '
          'Training BERT in 76 minutes', '1904.00962', 'https://github.com/NVIDIA/apex',
          'decoupled', 2),
    _torch('RAdam', 'RAdam', _B, "ICLR'2020", 'On the Variance of the Adaptive Learning Rate and '
           'Beyond', '1908.03265', 'coupled', 2),
    _ours('AdamP', 'adamp', 'AdamP', _B, "ICLR'2021", _ADAMP, '2006.08217',
          'https://github.com/clovaai/AdamP', 'decoupled', 2),
    _ours('Adan', 'adan', 'Adan', _B, "TPAMI'2023", 'Adan: Adaptive Nesterov Momentum Algorithm '
          'for Faster Optimizing Deep Models', '2208.06677', 'https://github.com/sail-sg/Adan',
          'decoupled', 4),
    _ours('AdaBound', 'adabound', 'AdaBound', _C, "ICLR'2019", 'Adaptive Gradient Methods with '
          'Dynamic Bound of Learning Rate', '1902.09843', 'https://github.com/Luolc/AdaBound',
          'coupled', 2),
    _ours('LARS', 'lars', 'LARS', _C, "ICLR'2018", 'Large Batch Training of Convolutional '
          'Networks', '1708.03888', 'https://github.com/NVIDIA/apex', 'coupled', 1,
          dict(momentum=0.9)),
    _ours('AdaFactor', 'adafactor', 'Adafactor', _C, "ICML'2018", 'Adafactor: Adaptive Learning '
          'Rates with Sublinear Memory Cost', '1804.04235',
          'https://github.com/facebookresearch/fairseq/blob/main/fairseq/optim/adafactor.py',
          'decoupled', 0, dict(scale_parameter=False)),
    _ours('AdaBelief', 'adabelief', 'AdaBelief', _C, "NeurIPS'2020", 'AdaBelief Optimizer: '
          'Adapting Stepsizes by the Belief in Observed Gradients', '2010.07468',
          'https://github.com/juntang-zhuang/Adabelief-Optimizer', 'decoupled', 2),
    _ours('NovoGrad', 'novograd', 'NovoGrad', _C, "arXiv'2020", 'Stochastic Gradient Methods '
          'with Layer-wise Adaptive Moments for Training of Deep Networks', '1905.11286',
          'https://github.com/NVIDIA/DeepLearningExamples/tree/master/PyTorch/'
          'SpeechRecognition/Jasper', 'decoupled', 1, aliases=('NvNovoGrad',)),
    _ours('Sophia', 'sophia', 'SophiaG', _C, "arXiv'2023", 'Sophia: A Scalable Stochastic '
          'Second-order Optimizer for Language Model Pre-training', '2305.14342',
          'https://github.com/Liuhong99/Sophia', 'decoupled', 2),
    _torch('AdaGrad', 'Adagrad', _D, "JMLR'2011", 'Adaptive Subgradient Methods for Online '
           'Learning and Stochastic Optimization', None, 'coupled', 1),
    _torch('AdaDelta', 'Adadelta', _D, "arXiv'2012", 'ADADELTA: An Adaptive Learning Rate Method',
           '1212.5701', 'coupled', 2),
    _torch('RMSProp', 'RMSprop', _D, "Coursera'2012", 'Neural Networks for Machine Learning, '
           'Lecture 6e (Tieleman and Hinton)', None, 'coupled', 1),
)


def _with_facts(info: OptimizerInfo) -> OptimizerInfo:
    facts = dict(_FACTS[info.name])
    facts['hparams'] = MappingProxyType(dict(facts.get('hparams', {})))
    facts['pitfalls'] = tuple(facts.get('pitfalls', ()))
    return replace(info, **facts)


_ZOO = tuple(_with_facts(info) for info in _ZOO)


def _extension(name: str, facts: Mapping[str, Any]) -> OptimizerInfo:
    facts = dict(facts)
    facts['category'] = Category[facts['category']]
    facts['type'] = f'bocb_mm.{facts["class_name"]}'
    facts['aliases'] = tuple(facts.get('aliases', ()))
    facts['hparams'] = MappingProxyType(dict(facts['hparams']))
    facts['pitfalls'] = tuple(facts['pitfalls'])
    facts['defaults'] = MappingProxyType(dict(facts.get('defaults', {})))
    return OptimizerInfo(name=name, suite='post-paper', **facts)


# The extension suite, in the order of extension_facts.EXTENSIONS.
_EXTENSION_ZOO: tuple[OptimizerInfo, ...] = tuple(
    _extension(name, facts) for name, facts in _EXTENSIONS.items())


def _key(name: str) -> str:
    return re.sub(r'[\s_\-]', '', str(name)).lower()


_LOOKUP: dict[str, OptimizerInfo] = {}
for _info in _ZOO + _EXTENSION_ZOO:
    for _alias in (_info.name, _info.class_name, *_info.aliases):
        if _LOOKUP.setdefault(_key(_alias), _info) is not _info:
            raise RuntimeError(f'optimizer alias {_alias!r} is ambiguous')  # pragma: no cover
del _info, _alias


def list_optimizers(suite: str = 'paper') -> list[str]:
    """Optimizer names of a suite.

    Args:
        suite: ``'paper'`` (the paper's 20, in the paper's order), ``'post-paper'`` (the
            extension suite) or ``'all'`` (the paper's 20, then the extension suite).

    Returns:
        The names, e.g. ``list_optimizers('post-paper')[0] == 'Muon'``.

    Raises:
        ValueError: For another suite.
    """
    tables = {'paper': _ZOO, 'post-paper': _EXTENSION_ZOO, 'all': _ZOO + _EXTENSION_ZOO}
    if suite not in tables:
        raise ValueError(f'Unknown optimizer suite {suite!r}; expected one of {SUITES}')
    return [info.name for info in tables[suite]]


def get_info(name: str) -> OptimizerInfo:
    """Metadata of an optimizer.

    Args:
        name: The paper's spelling or the class name, case-insensitive ('-', '_' and spaces
            ignored): ``'SGD-M'``, ``'sgdm'``, ``'LION'``, ``'Lion'``, ``'SophiaG'``,
            ``'Adafactor'``, ``'RMSprop'`` ...

    Returns:
        The :class:`OptimizerInfo`.

    Raises:
        UnknownOptimizerError: (a ``KeyError`` and ``ValueError``) listing the valid names.
    """
    info = _LOOKUP.get(_key(name))
    if info is None:
        raise UnknownOptimizerError(
            f'Unknown optimizer {name!r}; expected one of: {", ".join(list_optimizers())} '
            f'or the post-paper suite: {", ".join(list_optimizers("post-paper"))} '
            '(case-insensitive; class names such as SophiaG, Adafactor, RMSprop also work)')
    return info


def resolve_name(name: str) -> str:
    """The paper's spelling of ``name`` (e.g. ``'sophiag'`` -> ``'Sophia'``)."""
    return get_info(name).name


def optimizer_cfg(name: str, **overrides: Any) -> dict[str, Any]:
    """The mmengine optimizer config of an optimizer.

    Args:
        name: Any name :func:`get_info` accepts.
        **overrides: Arguments (lr, weight_decay ...) that extend or replace the zoo's defaults.

    Returns:
        ``dict(type=..., **defaults, **overrides)``, e.g.
        ``optimizer_cfg('Adan', lr=2e-3, weight_decay=0.05)`` ->
        ``{'type': 'bocb_mm.Adan', 'lr': 0.002, 'weight_decay': 0.05}``.
    """
    info = get_info(name)
    if 'type' in overrides:
        raise ValueError(f"Invalid override 'type' for {info.name}: the zoo sets it "
                         f'({info.type!r})')
    cfg = dict(type=info.type, **{**info.defaults, **overrides})
    missing = [arg for arg in _required_args(info.cls) if arg not in cfg]
    if missing:
        lrs = [lr for lr, _ in study_hparams(info.name).values()]
        hint = (f"; the study's CIFAR-100 lr for {info.name} spans {min(lrs):g} to {max(lrs):g} "
                'over the backbones' if lrs and 'lr' in missing else '')
        raise ValueError(f'optimizer_cfg({name!r}): {info.class_name} has no default for '
                         f'{", ".join(missing)}; pass it, e.g. optimizer_cfg({info.name!r}, '
                         f'{missing[0]}=...){hint}')
    return cfg


def wrapper_cfg(name: str, **overrides: Any) -> dict[str, Any]:
    """The ``optim_wrapper`` of an optimizer: its wrapper type, the constructor it needs (if
    any, :attr:`OptimizerInfo.constructor`) and :func:`optimizer_cfg`.

    Args:
        name: Any name :func:`get_info` accepts.
        **overrides: Optimizer arguments (lr, weight_decay ...), as for :func:`optimizer_cfg`.

    Returns:
        E.g. ``wrapper_cfg('Muon', lr=1e-3, weight_decay=0.05)`` ->
        ``{'type': 'OptimWrapper', 'constructor': 'bocb_mm.BOCBOptimWrapperConstructor',
        'optimizer': {'type': 'bocb_mm.Muon', 'lr': 0.001, 'weight_decay': 0.05}}``.
    """
    info = get_info(name)
    cfg: dict[str, Any] = dict(type=info.wrapper)
    if info.constructor is not None:
        cfg['constructor'] = info.constructor
    cfg['optimizer'] = optimizer_cfg(info.name, **overrides)
    return cfg


def constructor_defaults(cls: type) -> dict[str, Any]:
    """Constructor arguments of ``cls`` (``params`` excluded) -> default, in signature order;
    ``inspect.Parameter.empty`` for a required one (torch's ``required`` sentinel included)."""
    from torch.optim.optimizer import required
    params = list(inspect.signature(cls).parameters.values())
    return {p.name: inspect.Parameter.empty if p.default is required else p.default
            for p in params if p.name != 'params'
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _required_args(cls: type) -> list[str]:
    """Constructor arguments of ``cls`` without a default (``params`` excluded)."""
    return [name for name, default in constructor_defaults(cls).items()
            if default is inspect.Parameter.empty]


_HPARAMS_CSV = Path(__file__).resolve().parents[1] / 'data' / 'paper' / 'cifar100_hparams.csv'


@functools.lru_cache(maxsize=None)
def _study_table() -> dict[str, dict[str, tuple[float, float]]]:
    table: dict[str, dict[str, tuple[float, float]]] = {}
    with _HPARAMS_CSV.open(newline='') as f:
        for row in csv.DictReader(f):
            per_backbone = table.setdefault(resolve_name(row['optimizer']), {})
            per_backbone[row['backbone']] = (float(row['lr']), float(row['weight_decay']))
    return table


def study_hparams(name: str) -> Mapping[str, tuple[float, float]]:
    """The paper's CIFAR-100 ``(lr, weight_decay)`` of an optimizer, per backbone.

    Read from ``bocb_mm/data/paper/cifar100_hparams.csv`` (the paper's appendix table).

    Args:
        name: Any name :func:`get_info` accepts.

    Returns:
        ``{backbone: (lr, weight_decay)}`` in the table's order (read-only).
    """
    return MappingProxyType(_study_table().get(get_info(name).name, {}))


@functools.lru_cache(maxsize=None)
def _recommended_table() -> dict[str, dict[str, tuple[float, float]]]:
    from bocb_mm.configgen.tables import load_post_paper_hparams
    table = {}
    for name, rule in load_post_paper_hparams().items():
        table[name] = {column: tuple(float(v) for v in rule.apply(lr, wd))
                       for column, (lr, wd) in study_hparams(rule.reference).items()}
    return table


def recommended_hparams(name: str) -> Mapping[str, tuple[float, float]]:
    """An optimizer's CIFAR-100 ``(lr, weight_decay)`` per backbone column.

    The paper's optimizers: :func:`study_hparams`. The post-paper optimizers: the rule of
    ``bocb_mm/data/post_paper_cifar100_hparams.csv`` (a factor on a paper optimizer's values in
    the same column, read by :func:`bocb_mm.configgen.tables.load_post_paper_hparams`), with the
    keys of the reference's :func:`study_hparams`; the generated configs use the same numbers.

    Args:
        name: Any name :func:`get_info` accepts.

    Returns:
        ``{backbone column: (lr, weight_decay)}`` (read-only).
    """
    info = get_info(name)
    if info.suite == 'paper':
        return study_hparams(info.name)
    return MappingProxyType(_recommended_table()[info.name])
