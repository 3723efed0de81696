"""Conventions of the 20 optimizers: update rule, hyper-parameter meanings, pitfalls, wrapper.

Data only. :mod:`bocb_mm.optim.zoo` attaches each entry to its
:class:`~bocb_mm.optim.zoo.OptimizerInfo` (``update_rule``, ``hparams``, ``pitfalls``,
``wrapper``); read them there (``get_info('Adan').hparams['betas']``), never here. The
optimizer cards in ``docs/optimizers/`` are generated from ``OptimizerInfo``
(``tools/gen_optimizer_cards.py``).

* ``update_rule``: LaTeX (one step, ``\\\\`` separates lines), with ``\\eta`` the lr, ``\\lambda``
  the weight decay, ``g`` the gradient and ``\\theta`` the parameter.
* ``hparams``: one entry per constructor argument except ``params`` and the implementation flags
  (``foreach``, ``maximize``, ``capturable``, ``differentiable``, ``fused``); the defaults come from
  the class signature (a test keeps both in step).
* ``pitfalls``: what users of the peer projects trip over (issue trackers of timm,
  pytorch_optimizer, mmengine, mmpretrain and the official repositories).
"""
from __future__ import annotations

from typing import Any

__all__ = ['FACTS', 'IMPLEMENTATION_FLAGS']

#: Constructor arguments that select an implementation, not an algorithm.
IMPLEMENTATION_FLAGS = ('foreach', 'maximize', 'capturable', 'differentiable', 'fused')

_LR = 'learning rate $\\eta$'
_WD_L2 = ('coupled L2: $\\lambda\\theta$ is added to the gradient before any normalisation, so '
          'adaptive methods divide it by their denominator')
_EPS_OUT = 'added to the denominator after the square root ($\\sqrt{\\hat v} + \\epsilon$)'
_BETAS_ADAM = ('$(\\beta_1, \\beta_2)$: decay factors of the EMAs of $g$ and $g^2$ '
               '($m \\leftarrow \\beta_1 m + (1-\\beta_1) g$)')
_AMSGRAD = 'normalise by the running maximum of $v$ (AMSGrad)'
_FP16_EPS = ('fp16 eps: 1e-8 is below fp16\'s smallest normal (6e-5) and rounds to 0 in pure fp16; '
             'mmengine\'s AmpOptimWrapper keeps fp32 master weights and state, so only fully '
             'half-precision models are affected (use bf16 or eps >= 1e-7)')
_COUPLED_ADAPTIVE = ('coupled weight decay in an adaptive method is divided by $\\sqrt{\\hat v}$: '
                     'weights with large gradients are barely decayed; the paper\'s wd for this '
                     'optimizer is therefore small (see the range) and does not transfer to AdamW')
_NO_DECAY = ('weight decay on biases and norm layers: mmengine\'s default constructor decays '
             "them; the study's constructor='bocb_mm.BOCBOptimWrapperConstructor' exempts them "
             '(checked as `wd_exempt`; tools/analysis/param_groups.py shows which tensors decay)')
_TRUST = ('trust ratio on norms and biases: with the default constructor every tensor, including '
          'BatchNorm scales and biases, is adapted; the study exempts them '
          "(constructor='bocb_mm.BOCBOptimWrapperConstructor', checked as `trust_ratio_on_norms`)")

FACTS: dict[str, dict[str, Any]] = {
    'SGD-M': dict(
        update_rule=(r'g \leftarrow g + \lambda\theta \\ '
                     r'b \leftarrow \mu b + (1-\tau) g \quad (b_1 = g) \\ '
                     r'\theta \leftarrow \theta - \eta\, b \quad '
                     r'(\text{nesterov: } \theta \leftarrow \theta - \eta (g + \mu b))'),
        hparams=dict(
            lr=_LR + '; applied after the momentum (torch form), so a schedule acts at once',
            momentum='heavy-ball factor $\\mu$; the study fixes 0.9',
            dampening='$\\tau$: the new gradient enters the buffer with weight $1-\\tau$',
            weight_decay=_WD_L2,
            nesterov='Nesterov look-ahead (needs dampening 0)'),
        pitfalls=(
            'torch\'s momentum form ($b = \\mu b + g$, $\\theta -= \\eta b$) differs from '
            'Sutskever\'s ($v = \\mu v - \\eta g$) when the lr changes: a warm restart or '
            'step decay acts immediately here',
            _NO_DECAY)),
    'SGDP': dict(
        update_rule=(r'b \leftarrow \mu b + (1-\tau) g, \quad u = b \;(\text{nesterov: } '
                     r'g + \mu b) \\ '
                     r'\text{if } \max|\cos(\theta, g)| < \delta/\sqrt{d}: '
                     r'u \leftarrow u - (\hat\theta^\top u)\hat\theta,\; r = r_{wd} '
                     r'\text{ else } r = 1 \\ '
                     r'\theta \leftarrow \theta\,(1 - \eta\lambda r / (1-\mu)) - \eta u'),
        hparams=dict(
            lr=_LR,
            momentum='$\\mu$; the study fixes 0.9 (also scales the decay by $1/(1-\\mu)$)',
            dampening='$\\tau$, as torch SGD',
            weight_decay='decoupled: $\\theta \\mathrel{*}= 1 - \\eta\\lambda r/(1-\\mu)$',
            nesterov='Nesterov look-ahead numerator',
            eps='added to the norms of the cosine test',
            delta='threshold $\\delta$ of the cosine test (channel view, then layer view)',
            wd_ratio='$r_{wd}$: decay multiplier on projected (scale-invariant) weights'),
        pitfalls=(
            'the decay is divided by $1-\\mu$: at momentum 0.9 and the same $\\lambda$ it is 10x '
            'stronger than SGD-M\'s coupled decay',
            'the projection is tried on every tensor with ndim > 1 (classifier included); the '
            'cosine test, not the layer type, decides',
            'without Nesterov the official code projects the momentum buffer in place '
            '(reproduced here), unlike the paper\'s Algorithm 1',
            _NO_DECAY)),
    'LION': dict(
        update_rule=(r'c = \beta_1 m + (1-\beta_1) g \\ '
                     r'\theta \leftarrow \theta\,(1 - \eta\lambda) - \eta\,\mathrm{sign}(c) \\ '
                     r'm \leftarrow \beta_2 m + (1-\beta_2) g'),
        hparams=dict(
            lr=_LR + ': every coordinate moves by exactly $\\eta$, so 3-10x smaller than AdamW\'s',
            betas='$(\\beta_1, \\beta_2)$: $\\beta_1$ interpolates the update direction, '
                  '$\\beta_2$ decays the momentum (the paper: 0.95, 0.98 for stability)',
            weight_decay='decoupled, multiplied by $\\eta$: 3-10x larger than AdamW\'s keeps '
                         '$\\eta\\lambda$'),
        pitfalls=(
            'sign update: the update norm is $\\eta\\sqrt{n}$ whatever the gradient scale; an '
            'AdamW-scale lr (1e-3) diverges or stalls (checked as `lion_lr`)',
            'weight decay acts as $\\eta\\lambda$: lowering the lr without raising $\\lambda$ '
            'removes the regularisation')),
    'Adam': dict(
        update_rule=(r'g \leftarrow g + \lambda\theta \\ '
                     r'm \leftarrow \beta_1 m + (1-\beta_1) g, \quad '
                     r'v \leftarrow \beta_2 v + (1-\beta_2) g^2 \\ '
                     r'\theta \leftarrow \theta - \eta\, \frac{m/(1-\beta_1^t)}'
                     r'{\sqrt{v/(1-\beta_2^t)} + \epsilon}'),
        hparams=dict(
            lr=_LR, betas=_BETAS_ADAM, eps=_EPS_OUT, weight_decay=_WD_L2, amsgrad=_AMSGRAD,
            decoupled_weight_decay='True turns torch Adam into AdamW (the study keeps False)'),
        pitfalls=(_COUPLED_ADAPTIVE, _FP16_EPS)),
    'Adamax': dict(
        update_rule=(r'g \leftarrow g + \lambda\theta \\ '
                     r'm \leftarrow \beta_1 m + (1-\beta_1) g, \quad '
                     r'u \leftarrow \max(\beta_2 u, |g| + \epsilon) \\ '
                     r'\theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\, \frac{m}{u}'),
        hparams=dict(
            lr=_LR + ' (torch default 2e-3, as the paper)',
            betas='$(\\beta_1, \\beta_2)$: EMA of $g$ and decay of the infinity norm $u$',
            eps='added to $|g|$ inside the max (not after a square root)',
            weight_decay=_WD_L2),
        pitfalls=(_COUPLED_ADAPTIVE,
                  'the infinity norm $u$ has no bias correction: it only decays by $\\beta_2$ '
                  'per step, so one gradient spike damps the step for ~$1/(1-\\beta_2)$ steps')),
    'NAdam': dict(
        update_rule=(r'g \leftarrow g + \lambda\theta, \quad '
                     r'\mu_t = \beta_1 (1 - \tfrac12 0.96^{t\psi}) \\ '
                     r'm \leftarrow \beta_1 m + (1-\beta_1) g, \quad '
                     r'v \leftarrow \beta_2 v + (1-\beta_2) g^2 \\ '
                     r'\theta \leftarrow \theta - \eta\, \Big(\frac{\mu_{t+1} m}'
                     r'{1-\prod_{i\le t+1}\mu_i} + \frac{(1-\mu_t) g}{1-\prod_{i\le t}\mu_i}'
                     r'\Big) \Big/ \big(\sqrt{v/(1-\beta_2^t)} + \epsilon\big)'),
        hparams=dict(
            lr=_LR + ' (torch default 2e-3)', betas=_BETAS_ADAM, eps=_EPS_OUT,
            weight_decay=_WD_L2,
            momentum_decay='$\\psi$ of the momentum schedule $\\mu_t$ (Dozat; 4e-3)',
            decoupled_weight_decay='True applies AdamW-style decay (the study keeps False)'),
        pitfalls=(_COUPLED_ADAPTIVE, _FP16_EPS)),
    'AdamW': dict(
        update_rule=(r'\theta \leftarrow \theta\,(1 - \eta\lambda) \\ '
                     r'm \leftarrow \beta_1 m + (1-\beta_1) g, \quad '
                     r'v \leftarrow \beta_2 v + (1-\beta_2) g^2 \\ '
                     r'\theta \leftarrow \theta - \eta\, \frac{m/(1-\beta_1^t)}'
                     r'{\sqrt{v/(1-\beta_2^t)} + \epsilon}'),
        hparams=dict(
            lr=_LR, betas=_BETAS_ADAM, eps=_EPS_OUT,
            weight_decay='decoupled, multiplied by $\\eta$ (torch default 0.01; the study 0.05)',
            amsgrad=_AMSGRAD),
        pitfalls=('the decay is $\\eta\\lambda$ per step: an lr schedule also schedules the '
                  'decay, and 0.05 at lr 1e-3 is a per-step shrink of 5e-5',
                  _FP16_EPS, _NO_DECAY)),
    'LAMB': dict(
        update_rule=(r'g \leftarrow g / \max(\lVert g\rVert_{global}/c, 1) \\ '
                     r'm \leftarrow \beta_1 m + (1-\beta_1) g, \quad '
                     r'v \leftarrow \beta_2 v + (1-\beta_2) g^2 \\ '
                     r'u = \frac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)} + \epsilon} + '
                     r'\lambda\theta, \quad r = \frac{\lVert\theta\rVert}{\lVert u\rVert} \\ '
                     r'\theta \leftarrow \theta - \eta\, r\, u \quad '
                     r'(r = 1 \text{ where } \lambda = 0 \text{ unless always\_adapt})'),
        hparams=dict(
            lr=_LR, bias_correction='divide the moments by $1-\\beta^t$',
            betas=_BETAS_ADAM, eps=_EPS_OUT + ' (1e-6, NVLAMB)',
            weight_decay='added to the Adam direction before the trust ratio; $\\lambda = 0$ '
                         'also switches the trust ratio off for that group',
            grad_averaging='scale $g$ by $1-\\beta_1$ in the first moment',
            max_grad_norm='$c$: global gradient-norm clip inside the step (0 / None: off)',
            trust_clip='clip $r$ at 1 (LAMBC)',
            always_adapt='apply $r$ also where $\\lambda = 0$'),
        pitfalls=(_TRUST,
                  'the in-step global clip (max_grad_norm=1.0) is on by default, on top of any '
                  'clip_grad of the optim wrapper')),
    'RAdam': dict(
        update_rule=(r'g \leftarrow g + \lambda\theta, \quad '
                     r'\rho_\infty = \tfrac{2}{1-\beta_2} - 1, \quad '
                     r'\rho_t = \rho_\infty - \tfrac{2t\beta_2^t}{1-\beta_2^t} \\ '
                     r'\rho_t > 5:\; \theta \leftarrow \theta - \eta\, r_t\, '
                     r'\frac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)} + \epsilon}, \quad '
                     r'r_t = \sqrt{\tfrac{(\rho_t-4)(\rho_t-2)\rho_\infty}'
                     r'{(\rho_\infty-4)(\rho_\infty-2)\rho_t}} \\ '
                     r'\rho_t \le 5:\; \theta \leftarrow \theta - \eta\, m/(1-\beta_1^t)'),
        hparams=dict(
            lr=_LR, betas=_BETAS_ADAM, eps=_EPS_OUT, weight_decay=_WD_L2,
            decoupled_weight_decay='True applies AdamW-style decay; the paper\'s table marks '
                                   'RAdam "decoupled", torch\'s default (used) is coupled'),
        pitfalls=('the first steps ($\\rho_t \\le 5$: 5 steps at $\\beta_2 = 0.999$) are '
                  'un-normalised momentum-SGD steps of size $\\eta\\, m$',
                  _COUPLED_ADAPTIVE)),
    'AdamP': dict(
        update_rule=(r'm \leftarrow \beta_1 m + (1-\beta_1) g, \quad '
                     r'v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad '
                     r'u = \frac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)} + \epsilon} \\ '
                     r'\text{if } \max|\cos(\theta, g)| < \delta/\sqrt{d}: '
                     r'u \leftarrow u - (\hat\theta^\top u)\hat\theta,\; r = r_{wd} '
                     r'\text{ else } r = 1 \\ '
                     r'\theta \leftarrow \theta\,(1 - \eta\lambda r) - \eta u'),
        hparams=dict(
            lr=_LR, betas=_BETAS_ADAM, eps=_EPS_OUT + ', and to the norms of the cosine test',
            weight_decay='decoupled, multiplied by $\\eta$ and by $r_{wd}$ on projected weights',
            delta='threshold $\\delta$ of the cosine test',
            wd_ratio='$r_{wd}$: decay multiplier on projected (scale-invariant) weights',
            nesterov='Nesterov numerator $\\beta_1 m + (1-\\beta_1) g$'),
        pitfalls=('conv weights followed by BatchNorm are scale invariant: the projection '
                  'removes the radial step and their decay is scaled by wd_ratio (0.1)',
                  _FP16_EPS, _NO_DECAY)),
    'Adan': dict(
        update_rule=(r'\Delta = g_t - g_{t-1} \;(0 \text{ at } t = 1) \\ '
                     r'm \leftarrow \beta_1 m + (1-\beta_1) g, \quad '
                     r'd \leftarrow \beta_2 d + (1-\beta_2) \Delta, \quad '
                     r'n \leftarrow \beta_3 n + (1-\beta_3)(g + \beta_2\Delta)^2 \\ '
                     r'u = \frac{m/(1-\beta_1^t) + \beta_2 d/(1-\beta_2^t)}'
                     r'{\sqrt{n/(1-\beta_3^t)} + \epsilon} \\ '
                     r'\theta \leftarrow (\theta - \eta u)/(1 + \eta\lambda) \quad '
                     r'(\text{no\_prox: } \theta(1-\eta\lambda) - \eta u)'),
        hparams=dict(
            lr=_LR,
            betas='$(\\beta_1, \\beta_2, \\beta_3)$ as DECAY factors (official code, timm): '
                  '(0.98, 0.92, 0.99) = 1 - the paper\'s (0.02, 0.08, 0.01)',
            eps=_EPS_OUT,
            weight_decay='decoupled, proximal $1/(1+\\eta\\lambda)$ by default',
            max_grad_norm='global gradient-norm clip inside the step (0: off)',
            no_prox='multiplicative decay before the step instead of the proximal one'),
        pitfalls=('betas in the paper\'s $1-\\beta$ form, e.g. (0.02, 0.08, 0.01), make the '
                  'moments follow the current gradient almost only (checked as `adan_betas`)',
                  'four full-size state tensors per parameter ($m$, $d$, $n$, previous '
                  'gradient): twice AdamW\'s optimizer memory', _NO_DECAY)),
    'AdaBound': dict(
        update_rule=(r'g \leftarrow g + \lambda\theta, \quad '
                     r'm \leftarrow \beta_1 m + (1-\beta_1) g, \quad '
                     r'v \leftarrow \beta_2 v + (1-\beta_2) g^2 \\ '
                     r'\alpha = \frac{\eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)}{\sqrt v + \epsilon}, '
                     r'\quad \eta^* = \eta_{final}\, \eta / \eta_0 \\ '
                     r'\alpha \leftarrow \mathrm{clip}\big(\alpha,\, \eta^*(1 - \tfrac{1}'
                     r'{\gamma t + 1}),\, \eta^*(1 + \tfrac{1}{\gamma t})\big), \quad '
                     r'\theta \leftarrow \theta - \alpha\, m'),
        hparams=dict(
            lr=_LR + ' of the Adam phase ($\\eta_0$: the group\'s lr at construction)',
            betas=_BETAS_ADAM,
            final_lr='$\\eta_{final}$: the SGD lr both bounds converge to, rescaled by '
                     '$\\eta/\\eta_0$ so a schedule moves the bounds',
            gamma='$\\gamma$: convergence speed of the bounds (~$1/\\gamma$ steps)',
            eps=_EPS_OUT, weight_decay=_WD_L2, amsbound=_AMSGRAD + ' (AMSBound)'),
        pitfalls=('final_lr (0.1) is an SGD-scale lr: after ~$1/\\gamma$ steps AdaBound is SGD '
                  'at final_lr times the schedule, whatever lr says',
                  'the paper\'s table marks it "decoupled"; the official code (used) adds the '
                  'decay to the gradient', _COUPLED_ADAPTIVE)),
    'LARS': dict(
        update_rule=(r'r = \frac{k\,\lVert\theta\rVert}{\lVert g\rVert + \lambda\lVert\theta\rVert'
                     r' + \epsilon} \;(\text{LARC: } \min(r/\eta, 1)) \\ '
                     r'g \leftarrow r\,(g + \lambda\theta), \quad '
                     r'b \leftarrow \mu b + (1-\tau) g \\ '
                     r'\theta \leftarrow \theta - \eta\, b \quad '
                     r'(r = 1 \text{ where } \lambda = 0 \text{ unless always\_adapt})'),
        hparams=dict(
            lr=_LR + ': the global lr; the per-layer lr is $\\eta r$',
            momentum='$\\mu$; the study fixes 0.9', dampening='$\\tau$, as torch SGD',
            weight_decay='coupled L2 added before the trust ratio; $\\lambda = 0$ also switches '
                         'the trust ratio off for that group (timm semantics)',
            nesterov='Nesterov momentum',
            trust_coeff='$k$: trust coefficient (1e-3)',
            eps='added to the trust-ratio denominator',
            trust_clip='LARC: clip the adapted lr at $\\eta$',
            always_adapt='apply $r$ also where $\\lambda = 0$',
            trust_ratio='apply the trust ratio at all (True: timm and the BOCB release\'s '
                        'detection copy; False: momentum SGD with an L2 term, the BOCB '
                        'release\'s classification default)'),
        pitfalls=(_TRUST,
                  'lr is SGD-scale x10 (the study: 0.06-1.4) because $k = 10^{-3}$ scales it '
                  'down per layer',
                  'weight_decay = 0 on every group turns LARS into plain momentum SGD')),
    'AdaFactor': dict(
        update_rule=(r'\rho_t = \eta \text{ (explicit lr) or } '
                     r'\min(10^{-2}, 1/\sqrt t) \text{ (relative\_step)}, \quad '
                     r'\alpha_t = \rho_t \max(\epsilon_2, \mathrm{RMS}(\theta)) '
                     r'\text{ if scale\_parameter else } \rho_t \\ '
                     r'\hat\beta_2 = 1 - t^{c}, \quad G = g^2 + \epsilon_1, \quad '
                     r'R \leftarrow \hat\beta_2 R + (1-\hat\beta_2)\,\mathrm{mean}_{-1} G, \quad '
                     r'C \leftarrow \hat\beta_2 C + (1-\hat\beta_2)\,\mathrm{mean}_{-2} G \\ '
                     r'V = R C / \mathrm{mean}(R), \quad u = g/\sqrt V, \quad '
                     r'u \leftarrow u / \max(1, \mathrm{RMS}(u)/d) \\ '
                     r'\theta \leftarrow \theta - \lambda\alpha_t\theta - \alpha_t u \quad '
                     r'(\beta_1: u \leftarrow \beta_1 m + (1-\beta_1) u)'),
        hparams=dict(
            lr=_LR + '; None selects the relative step $\\min(10^{-2}, 1/\\sqrt t)$',
            eps='$(\\epsilon_1, \\epsilon_2)$: added to $g^2$, and the floor of RMS($\\theta$)',
            clip_threshold='$d$: update clipping threshold on RMS($u$)',
            decay_rate='$c$ of $\\hat\\beta_2 = 1 - t^c$ (-0.8)',
            beta1='momentum on the update; None (default) keeps no first moment',
            weight_decay='decoupled, multiplied by the step size $\\alpha_t$',
            scale_parameter='multiply the step by RMS($\\theta$) (also an explicit lr: fairseq '
                            'and HF); the study sets False (timm\'s explicit-lr semantics)',
            relative_step='use the relative step instead of lr (None: when lr is None)',
            warmup_init='relative step $10^{-6} t$ warm-up (needs relative_step)'),
        pitfalls=('relative_step with an explicit lr: fairseq ignores the lr silently, HF and '
                  'bocb_mm raise (checked as `adafactor_relative_step`)',
                  'the relative step (lr=None) under an lr scheduler: the scheduler would scale '
                  '`None`; the config check refuses it when the config is loaded',
                  'scale_parameter=True multiplies an explicit lr by RMS($\\theta$) (~0.01-0.1): '
                  'the study\'s lrs assume False (checked as `adafactor_scale_parameter`)',
                  'factored second moments over the last two dims (fairseq): a 1x1 conv '
                  '(O, I, 1, 1) keeps O x I row and column statistics, not O + I')),
    'AdaBelief': dict(
        update_rule=(r'\theta \leftarrow \theta(1-\eta\lambda) \;(\text{weight\_decouple}), '
                     r'\quad m \leftarrow \beta_1 m + (1-\beta_1) g \\ '
                     r's \leftarrow \beta_2 s + (1-\beta_2)(g - m)^2 + \epsilon \\ '
                     r'\theta \leftarrow \theta - \eta\, r_t\, \frac{m/(1-\beta_1^t)}'
                     r'{\sqrt{s/(1-\beta_2^t)} + \epsilon} \quad '
                     r'(r_t: \text{RAdam rectification})'),
        hparams=dict(
            lr=_LR,
            betas='$(\\beta_1, \\beta_2)$: EMA of $g$ and of the belief $(g-m)^2$',
            eps='added to the state $s$ every step AND after the square root (1e-16: the '
                'square of Adam\'s 1e-8)',
            weight_decay='decoupled with weight_decouple (default), else coupled L2',
            amsgrad=_AMSGRAD + ' of $s$ (no effect with rectify)',
            weight_decouple='decoupled (AdamW-style) decay',
            fixed_decay='decay $\\theta(1-\\lambda)$ without the lr factor',
            rectify='RAdam rectification of the first steps',
            degenerated_to_sgd='take SGD steps while the rectification is undefined'),
        pitfalls=('eps = 1e-8 copied from Adam is 1e8 times the official value: $s$ is a '
                  'variance, so AdaBelief\'s eps lives on the squared scale',
                  'eps 1e-16 is 0 in fp16 and bf16: keep the state in fp32 (AmpOptimWrapper does)',
                  _NO_DECAY)),
    'NovoGrad': dict(
        update_rule=(r'v \leftarrow \beta_2 v + (1-\beta_2) \lVert g\rVert^2 \;'
                     r'(v_1 = \lVert g\rVert^2, \text{ one scalar per tensor}) \\ '
                     r'u = g/(\sqrt v + \epsilon) + \lambda\theta, \quad '
                     r'm \leftarrow \beta_1 m + (1-\beta_1)^{[\text{grad\_averaging}]} u \\ '
                     r'\theta \leftarrow \theta - \eta\, m'),
        hparams=dict(
            lr=_LR,
            betas='$(\\beta_1, \\beta_2)$: momentum and decay of the per-tensor second moment '
                  '(0.95, 0.98)',
            eps='added to $\\sqrt v$',
            weight_decay='added to the normalised gradient (the paper\'s decoupled form)',
            grad_averaging='scale $u$ by $1-\\beta_1$ before the momentum',
            amsgrad=_AMSGRAD),
        pitfalls=('the second moment is one scalar per tensor (layer-wise): a layer\'s step '
                  'size is $\\eta/\\lVert g\\rVert$-scaled, unlike Adam\'s per element',
                  'no bias correction; weight decay sits inside the momentum, so $\\lambda$ '
                  'scales differently from AdamW\'s')),
    'Sophia': dict(
        wrapper='bocb_mm.SophiaOptimWrapper',
        update_rule=(r'\theta \leftarrow \theta(1-\eta\lambda), \quad '
                     r'm \leftarrow \beta_1 m + (1-\beta_1) g \\ '
                     r'\theta \leftarrow \theta - \eta\,\mathrm{sign}(m)\,'
                     r'\min\big(|m| / (\rho\, b\, h + \epsilon), 1\big) \\ '
                     r'\text{every } k \text{ updates: } h \leftarrow \beta_2 h + (1-\beta_2)\hat h'
                     r' \quad (\hat h: \text{GNB or Hutchinson estimate; SophiaOptimWrapper})'),
        hparams=dict(
            lr=_LR + ' (sign-like steps: Lion scale)',
            betas='$(\\beta_1, \\beta_2)$: EMA of $g$ and of the Hessian estimate',
            rho='$\\rho$: clipping scale; the effective constant is $\\rho b$',
            weight_decay='decoupled, multiplied by $\\eta$',
            bs='$b$: the batch-size factor of the official step(bs=...); SophiaOptimWrapper '
               'sets it from the real global batch (auto_bs)',
            eps='added to the clipping denominator (official: 1e-15)'),
        pitfalls=('outside bocb_mm.SophiaOptimWrapper (or with hessian_interval=0) $h$ stays 0: '
                  'every step is the sign step $\\eta\\,\\mathrm{sign}(m)$ (the official BOCB '
                  'release shipped such configs; checked as `sophia_no_refresh`, and SophiaG '
                  'itself warns once when it steps past $k$ updates without a refresh)',
                  '$\\rho$ and $b$ only act as a product: the official LM value bs=5120 '
                  '(tokens) is wrong for image batches',
                  'the refresh interval $k$ (hessian_interval=10) counts optimizer updates, '
                  'not iterations')),
    'AdaGrad': dict(
        update_rule=(r'g \leftarrow g + \lambda\theta, \quad '
                     r'\eta_t = \eta / (1 + (t-1)\,\delta) \\ '
                     r's \leftarrow s + g^2, \quad '
                     r'\theta \leftarrow \theta - \eta_t\, g/(\sqrt s + \epsilon)'),
        hparams=dict(
            lr=_LR, lr_decay='$\\delta$: built-in $1/(1 + (t-1)\\delta)$ decay',
            weight_decay=_WD_L2,
            initial_accumulator_value='initial value of the sum $s$',
            eps=_EPS_OUT + ' (1e-10)'),
        pitfalls=('the sum $s$ only grows: the step shrinks like $1/\\sqrt t$ on its own, and a '
                  'cosine schedule on top shrinks it twice', _COUPLED_ADAPTIVE)),
    'AdaDelta': dict(
        update_rule=(r'g \leftarrow g + \lambda\theta, \quad '
                     r'v \leftarrow \rho v + (1-\rho) g^2 \\ '
                     r'\Delta = \frac{\sqrt{u + \epsilon}}{\sqrt{v + \epsilon}}\, g, \quad '
                     r'u \leftarrow \rho u + (1-\rho)\Delta^2, \quad '
                     r'\theta \leftarrow \theta - \eta\,\Delta'),
        hparams=dict(
            lr='$\\eta$: a multiplier of the unit-corrected step (the paper has none: 1.0)',
            rho='$\\rho$: decay of both running averages',
            eps='inside both square roots; $\\sqrt\\epsilon$ sets the first steps\' size',
            weight_decay=_WD_L2),
        pitfalls=('lr is not a step size: the study\'s AdaDelta lrs are 0.1-2.4',
                  'eps (1e-6) sets the initial step size $\\sqrt\\epsilon \\approx 10^{-3}$ '
                  'and thus the warm-up speed')),
    'RMSProp': dict(
        update_rule=(r'g \leftarrow g + \lambda\theta, \quad '
                     r'v \leftarrow \alpha v + (1-\alpha) g^2 \;'
                     r'(\text{centered: } v - \bar g^2) \\ '
                     r'b \leftarrow \mu b + g/(\sqrt v + \epsilon), \quad '
                     r'\theta \leftarrow \theta - \eta\, b \quad '
                     r'(\mu = 0: \theta \leftarrow \theta - \eta\, g/(\sqrt v + \epsilon))'),
        hparams=dict(
            lr=_LR + ' (torch default 1e-2 is large for deep nets)',
            alpha='$\\alpha$: decay of the EMA of $g^2$ (torch 0.99; TensorFlow\'s rho 0.9)',
            eps=_EPS_OUT + ' (TensorFlow adds it inside the square root)',
            weight_decay=_WD_L2, momentum='$\\mu$: momentum on the normalised step',
            centered='normalise by the variance estimate $v - \\bar g^2$'),
        pitfalls=('TensorFlow / Keras RMSprop puts eps inside the square root and uses '
                  'rho = 0.9: hyper-parameters do not transfer one to one',
                  _COUPLED_ADAPTIVE)),
}
