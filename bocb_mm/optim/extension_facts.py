"""The post-paper extension suite: optimizers published after the BOCB study, from libraries.

Data only, like :mod:`bocb_mm.optim.zoo_facts`. :mod:`bocb_mm.optim.zoo` turns each entry into an
:class:`~bocb_mm.optim.zoo.OptimizerInfo` with ``suite='post-paper'`` (read them with
``get_info('Muon')`` or ``list_optimizers(suite='post-paper')``, never here), and
:mod:`bocb_mm.optim.extensions` registers each class in the ``bocb_mm`` scope as
``type='bocb_mm.<class_name>'``. Nothing here is reimplemented: ``module`` / ``class_name`` name
the library's class, ``requirement`` the pinned pip package that provides it.

``category`` places each optimizer in the paper's four categories by its components (momentum
gradient, adaptive or estimated lr); the study itself has none of them.
"""
from __future__ import annotations

from typing import Any

__all__ = ['EXTENSIONS', 'TIMM', 'PYTORCH_OPTIMIZER', 'SCHEDULEFREE', 'BOCB_CONSTRUCTOR']

#: The pinned libraries (also in requirements/runtime.txt).
TIMM = 'timm==1.0.31'
PYTORCH_OPTIMIZER = 'pytorch_optimizer==4.1.0'
SCHEDULEFREE = 'schedulefree==1.4.1'
#: The optim wrapper constructor of the generated configs (Muon's routing needs it).
BOCB_CONSTRUCTOR = 'bocb_mm.BOCBOptimWrapperConstructor'

_LR = 'learning rate $\\eta$'
_WD_DECOUPLED = 'decoupled: $\\theta \\leftarrow \\theta - \\eta\\lambda\\theta$'
_CAUTION = ('Cautious mask: keep only the coordinates where the update and the gradient agree in '
            'sign, rescaled by the mask\'s mean')
_CORRECTED_WD = ('scale the decay by $\\eta/\\eta_{max}$ (timm\'s corrected weight decay), so '
                 'the decay follows the lr schedule squared')
_EPS = 'added to the denominator'
_CONFIGS = ('the study predates it: its CIFAR-100 configs (configs/cifar100_post_paper/, written '
            'by tools/gen_configs.py) take lr and weight decay per backbone from a rule on a '
            'paper optimizer\'s values, bocb_mm/data/post_paper_cifar100_hparams.csv (the table '
            'above, with its source; docs/configs.md), not from a tuning of their own')

EXTENSIONS: dict[str, dict[str, Any]] = {
    'Muon': dict(
        module='timm.optim.muon', class_name='Muon', requirement=TIMM, category='FIXED_LR',
        venue="blog'2024", paper='Muon: An optimizer for hidden layers in neural networks '
        '(Jordan et al.); Muon is Scalable for LLM Training (Moonshot)', arxiv='2502.16982',
        code='https://github.com/KellerJordan/Muon', weight_decay='decoupled', state_tensors=1,
        constructor=BOCB_CONSTRUCTOR,
        update_rule=(r'b \leftarrow \mu b + (1-\mu) g, \quad u = b \;(\text{nesterov: } '
                     r'(1-\mu) g + \mu b) \\ '
                     r'O = \mathrm{NewtonSchulz}_k(u / \lVert u \rVert_F) \approx UV^\top \\ '
                     r'\theta \leftarrow \theta (1 - \eta\lambda) - \eta\, s(A, B)\, O \quad '
                     r'(s = 0.2\sqrt{\max(A, B)} \text{ for match\_rms\_adamw})'),
        hparams=dict(
            lr=_LR + ' of the Muon (matrix) update, before the shape adjustment',
            weight_decay=_WD_DECOUPLED + ' (Muon and fallback parameters)',
            momentum='$\\mu$ of the momentum buffer',
            nesterov='Nesterov look-ahead before the orthogonalisation (timm default False; '
                     'Keller Jordan\'s code uses True)',
            ns_steps='$k$, Newton-Schulz iterations',
            ns_coefficients="coefficients $(a, b, c)$ of the quintic iteration: 'quintic' (a "
                            'per-step list from modded-nanogpt), another named set, one triple '
                            'or a list',
            eps='added to the Frobenius norm before the iteration',
            safety_factor='divides the normalised input again (a margin for the spectral norm)',
            adjust_lr_fn="shape adjustment $s(A, B)$ of the lr for the (flattened) $A \\times B$ "
                         "update: 'match_rms_adamw' ($0.2\\sqrt{\\max(A,B)}$, Moonshot), "
                         "'original' ($\\sqrt{\\max(1, A/B)}$, Keller Jordan), 'rms_to_rms' "
                         "($\\sqrt{A/B}$, Scion) or None ($s = 1$)",
            conv_mode="conv kernels: 'flatten' to (out, in*kh*kw) or 'batched' per spatial "
                      'position',
            normalize_spatial="in 'batched' mode divide by $\\sqrt{k_h k_w}$",
            adamw_lr='deprecated: the fallback lr (use fallback_lr_scale)',
            fallback_lr_scale='the AdamW fallback runs at lr * fallback_lr_scale',
            betas='$(\\beta_1, \\beta_2)$ of the AdamW fallback (and $\\beta_2$ of AdaMuon)',
            algo="'muon', or 'adamuon' (an element-wise second moment on the orthogonalised "
                 'update)',
            scale_eps='scale eps by $\\sqrt{d_{in}/d_{out}}$ (muP)',
            verbose='log which parameters go to Muon and which to the fallback'),
        pitfalls=(
            'only for hidden weight matrices: timm routes by shape alone, sending to its AdamW '
            'fallback the tensors with fewer than two non-unit dimensions (biases, norms), a '
            'unit first or second dimension (position/class tokens, depthwise kernels), a '
            'flattened side below 4 or an aspect ratio above 128; everything else, the '
            'classifier head and the patch or token embedding included, goes to Muon unless its '
            'param group sets use_fallback=True (the Muon authors keep those on AdamW)',
            'torch >= 2.9 has its own torch.optim.Muon (2-D only), which mmengine registers as '
            "'Muon' in its root registry: type='Muon' is torch's and raises on the first conv "
            "kernel or bias; type='bocb_mm.Muon' is timm's",
            'the lr is not AdamW\'s: with adjust_lr_fn=\'match_rms_adamw\' an AdamW lr transfers; '
            "with 'rms_to_rms' or 'original' Muon's lr is about 0.02",
            'conv kernels are flattened to (out, in*kh*kw) (the Muon authors apply it to 2-D '
            'matrices only)',
            _CONFIGS)),
    'Kron': dict(
        module='bocb_mm.optim.extensions', class_name='Kron', requirement=TIMM,
        category='ESTIMATED_LR',
        venue="TNNLS'2018", paper='Preconditioned Stochastic Gradient Descent (PSGD, Kronecker '
        'factored preconditioner)', arxiv='1512.04202',
        code='https://github.com/evanatyourservice/kron_torch', weight_decay='coupled',
        state_tensors=1,
        update_rule=(r'm \leftarrow \mu m + (1-\mu) g, \quad \hat m = m / (1-\mu^t) \\ '
                     r'\text{every } 1/p_t \text{ steps: update } Q_1, Q_2 \text{ (triangular '
                     r'Kronecker factors) on } (v \sim \mathcal{N}, \hat m) \\ '
                     r'u = (Q_1^\top Q_1) \otimes (Q_2^\top Q_2)\, \hat m, \quad '
                     r'u \leftarrow u \min(1, 1.1/\mathrm{rms}(u)) \\ '
                     r'\theta \leftarrow \theta - \eta (u + \lambda\theta)'),
        hparams=dict(
            lr=_LR,
            momentum='$\\mu$ of the EMA of the gradient',
            weight_decay='added to the preconditioned update (decoupled_decay=True: to the '
                         'parameter)',
            preconditioner_update_probability='$p_t$: the preconditioner is updated every '
                                              '$1/p_t$ steps; a float, a schedule of the step, '
                                              'or None (1 for 500 steps, then down to 0.03)',
            max_size_triangular='dimensions above this get a diagonal factor',
            min_ndim_triangular='tensors with fewer dimensions get diagonal factors',
            memory_save_mode="None, 'one_diag', 'smart_one_diag' or 'all_diag'",
            momentum_into_precond_update='fit the preconditioner on the momentum, not the '
                                         'gradient',
            precond_lr='step size of the preconditioner fit',
            precond_init_scale='initial scale of $Q$',
            mu_dtype='dtype of the momentum buffer',
            precond_dtype='dtype of the preconditioner',
            decoupled_decay=_WD_DECOUPLED,
            corrected_weight_decay=_CORRECTED_WD,
            flatten='flatten dimensions flatten_start_dim..flatten_end_dim before factoring',
            flatten_start_dim='first flattened dimension',
            flatten_end_dim='last flattened dimension',
            stochastic_weight_decay='multiply the decay by a random factor',
            deterministic='draw the probe $v$ from a generator seeded by the optimizer\'s own '
                          'RNG, which the state_dict saves, so that a resume repeats the draws',
            compile_kernels='compile the preconditioner kernels with torch.compile (timm\'s '
                            'behaviour); False runs them eagerly (bocb_mm\'s subclass, the same '
                            'step)'),
        pitfalls=(
            'the probe $v$ of each preconditioner update comes from torch\'s global generator '
            'and the rebalancing of the factors (about 1 update in 100) from the optimizer\'s '
            'random.Random(1337): without deterministic=True a resumed run draws other values '
            'than an uninterrupted one',
            'weight_decay is added to the preconditioned update (coupled-like) unless '
            'decoupled_decay=True',
            'timm\'s default schedule refreshes at every step for 500 steps: the first steps '
            'cost several times an AdamW step',
            'timm compiles four preconditioner kernels with torch.compile(dynamic=False) at the '
            'first steps, once per parameter shape: tens of seconds on CPU before the first step '
            'returns (compile_kernels=False runs them eagerly, as fast on small models)',
            'the einsums of a 4-D conv kernel need opt_einsum (a pinned requirement) for their '
            'contraction order: without it torch contracts them left to right (on a small CNN '
            'the compiled step asked for 27.5 GB, the eager one ran over 150 times slower); '
            'eagerly, torch searches that order at every call, which bocb_mm\'s Kron memoizes '
            'per equation and shapes (the same order; the search was two thirds of the step)',
            _CONFIGS)),
    'MARS': dict(
        module='timm.optim.mars', class_name='Mars', requirement=TIMM, category='ADAPTIVE_LR',
        venue="arXiv'2024", paper='MARS: Unleashing the Power of Variance Reduction for Training '
        'Large Models', arxiv='2411.10438', code='https://github.com/AGI-Arena/MARS',
        weight_decay='decoupled', state_tensors=3,
        update_rule=(r'c = g_t + \gamma \tfrac{\beta_1}{1-\beta_1} (g_t - g_{t-1}), \quad '
                     r'c \leftarrow c / \max(1, \lVert c \rVert) \\ '
                     r'm \leftarrow \beta_1 m + (1-\beta_1) c, \quad '
                     r'v \leftarrow \beta_2 v + (1-\beta_2) c^2 \\ '
                     r'\theta \leftarrow \theta (1 - \eta\lambda) - \eta\, '
                     r'\hat m / (\sqrt{\hat v} + \epsilon)'),
        hparams=dict(
            lr=_LR,
            betas='$(\\beta_1, \\beta_2)$ of the EMAs of $c$ and $c^2$',
            eps=_EPS,
            weight_decay=_WD_DECOUPLED,
            gamma='$\\gamma$: weight of the gradient correction (variance reduction)',
            mars_type="'adamw' or 'lion' (the update applied to $c$)",
            optimize_1d='use MARS for 1-D tensors too (default: AdamW on them)',
            lr_1d_factor='lr multiplier of the 1-D AdamW path',
            betas_1d='betas of the 1-D AdamW path (None: betas)',
            caution=_CAUTION),
        pitfalls=(
            'the approximate form (MARS-approx): the correction uses the previous step\'s '
            'gradient on another batch, not a second gradient on the same batch as the exact '
            'MARS of the paper',
            '1-D tensors (biases, norms) get plain AdamW unless optimize_1d=True',
            'keeps the previous gradient: three full-size state tensors per weight',
            _CONFIGS)),
    'ADOPT': dict(
        module='timm.optim.adopt', class_name='Adopt', requirement=TIMM, category='ADAPTIVE_LR',
        venue="NeurIPS'2024", paper='ADOPT: Modified Adam Can Converge with Any beta_2 with the '
        'Optimal Rate', arxiv='2411.02853', code='https://github.com/iShohei220/adopt',
        weight_decay='coupled', state_tensors=2,
        update_rule=(r't = 1: v \leftarrow g^2 \text{ (no update)} \\ '
                     r'n = \mathrm{clip}_{\pm (t-1)^{c}}\big(g / \max(\sqrt{v}, \epsilon)\big), '
                     r'\quad m \leftarrow \beta_1 m + (1-\beta_1) n \\ '
                     r'\theta \leftarrow \theta - \eta m, \quad '
                     r'v \leftarrow \beta_2 v + (1-\beta_2) g^2'),
        hparams=dict(
            lr=_LR,
            betas='$(\\beta_1, \\beta_2)$; the paper\'s point is that $\\beta_2 = 0.9999$ '
                  'converges',
            eps='lower bound of $\\sqrt{v}$ (1e-6, not Adam\'s 1e-8)',
            clip_exp='$c$: the normalised gradient is clipped to $\\pm(t-1)^c$ (None: no '
                     'clipping)',
            weight_decay=('coupled L2 added to the gradient (decoupled=True: AdamW-style)'),
            decoupled='decoupled (AdamW-style) weight decay',
            corrected_weight_decay=_CORRECTED_WD,
            caution=_CAUTION),
        pitfalls=(
            'the first step only initialises $v$: the parameters do not move at step 1',
            'timm clips to $(t-1)^{0.333}$ by default; the official code clips to $t^{0.25}$ '
            '(clip_lambda), so early steps are clipped differently',
            'weight decay is coupled unless decoupled=True (timm\'s \'adoptw\')',
            _CONFIGS)),
    'SOAP': dict(
        module='pytorch_optimizer.optimizer.soap', class_name='SOAP',
        requirement=PYTORCH_OPTIMIZER, category='ESTIMATED_LR', venue="ICLR'2025",
        paper='SOAP: Improving and Stabilizing Shampoo using Adam', arxiv='2409.11321',
        code='https://github.com/nikhilvyas/SOAP', weight_decay='decoupled', state_tensors=2,
        update_rule=(r'L \leftarrow \beta_s L + (1-\beta_s) G G^\top, \quad '
                     r'R \leftarrow \beta_s R + (1-\beta_s) G^\top G \\ '
                     r'Q_L, Q_R = \mathrm{eigvecs}(L, R) \text{ every } f \text{ steps} \\ '
                     r'\tilde g = Q_L^\top G Q_R, \quad \text{Adam on } \tilde g: '
                     r'n = \hat m / (\sqrt{\hat v} + \epsilon) \\ '
                     r'\theta \leftarrow \theta - \eta\, Q_L n Q_R^\top - \eta\lambda\theta'),
        hparams=dict(
            lr=_LR,
            betas='$(\\beta_1, \\beta_2)$ of Adam in the eigenbasis',
            shampoo_beta='$\\beta_s$ of $L$, $R$ (None: $\\beta_2$)',
            weight_decay=_WD_DECOUPLED,
            precondition_frequency='$f$: steps between eigenbasis refreshes',
            max_precondition_dim='dimensions above this are not preconditioned',
            merge_dims='merge dimensions of a conv kernel up to max_precondition_dim',
            precondition_1d='precondition 1-D tensors too',
            correct_bias='Adam bias correction',
            normalize_gradient='normalise the gradient before the update',
            data_format="'channels_first' or 'channels_last' layout of conv kernels for "
                        'merge_dims',
            eps=_EPS),
        pitfalls=(
            'the first step only initialises the preconditioner: the parameters do not move at '
            'step 1 (as in the official code)',
            'conv kernels are preconditioned per dimension (one factor per axis) unless '
            'merge_dims=True; large dimensions beyond max_precondition_dim stay diagonal',
            'besides its two Adam moments it keeps two factors and two eigenbases per matrix '
            '($m^2 + n^2$ each) and refreshes the eigenbases every precondition_frequency steps: '
            'costly for wide layers',
            _CONFIGS)),
    'AdEMAMix': dict(
        module='pytorch_optimizer.optimizer.ademamix', class_name='AdEMAMix',
        requirement=PYTORCH_OPTIMIZER, category='ADAPTIVE_LR', venue="ICLR'2025",
        paper='The AdEMAMix Optimizer: Better, Faster, Older', arxiv='2409.03137',
        code='https://github.com/apple/ml-ademamix', weight_decay='coupled', state_tensors=3,
        update_rule=(r'm_1 \leftarrow \beta_1 m_1 + (1-\beta_1) g, \quad '
                     r'm_2 \leftarrow \beta_3 m_2 + (1-\beta_3) g, \quad '
                     r'v \leftarrow \beta_2 v + (1-\beta_2) g^2 \\ '
                     r'\theta \leftarrow \theta - \eta \big( (\hat m_1 + \alpha m_2) / '
                     r'(\sqrt{\hat v} + \epsilon) + \lambda\theta \big)'),
        hparams=dict(
            lr=_LR,
            betas='$(\\beta_1, \\beta_2, \\beta_3)$: fast EMA, second moment, slow EMA',
            weight_decay='coupled L2 by default in pytorch_optimizer (weight_decouple=True: '
                         'decoupled as in the paper)',
            weight_decouple='decoupled (AdamW-style) weight decay',
            fixed_decay='decay by $\\lambda$ instead of $\\eta\\lambda$',
            alpha='$\\alpha$: weight of the slow EMA',
            t_alpha_beta3='warm-up steps of $\\alpha$ and $\\beta_3$ (None: no warm-up)',
            eps=_EPS),
        pitfalls=(
            'pytorch_optimizer\'s default weight decay is coupled (weight_decouple=False); the '
            'paper and Apple\'s code decay like AdamW: pass weight_decouple=True',
            'without t_alpha_beta3 the slow EMA starts at full weight $\\alpha$; the paper warms '
            '$\\alpha$ and $\\beta_3$ up over the whole run and reports instabilities without it',
            'three full-size state tensors per weight (one more than AdamW)',
            _CONFIGS)),
    'Schedule-Free AdamW': dict(
        module='schedulefree.adamw_schedulefree', class_name='AdamWScheduleFree',
        requirement=SCHEDULEFREE, category='ADAPTIVE_LR', venue="NeurIPS'2024",
        paper='The Road Less Scheduled', arxiv='2405.15682',
        code='https://github.com/facebookresearch/schedule_free', weight_decay='decoupled',
        state_tensors=2, aliases=('ScheduleFreeAdamW', 'SFAdamW', 'AdamWScheduleFree'),
        update_rule=(r'y = (1-\beta_1) z + \beta_1 x \quad (\text{gradient taken at } y) \\ '
                     r'v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad '
                     r'\gamma_t = \eta \min(1, t/T_w) \\ '
                     r'z \leftarrow z - \gamma_t \big(g / (\sqrt{\hat v} + \epsilon) '
                     r'+ \lambda y\big) \\ '
                     r'x \leftarrow (1 - c_t) x + c_t z, \quad '
                     r'c_t = \gamma_t^{r} / \textstyle\sum_{i \le t} \gamma_i^{r}'),
        hparams=dict(
            lr=_LR + ' (constant after the warm-up)',
            betas='$\\beta_1$: interpolation between $z$ and $x$; $\\beta_2$: EMA of $g^2$',
            eps=_EPS,
            weight_decay='decoupled, applied at $y$ inside the $z$ step',
            warmup_steps='$T_w$: linear warm-up of the lr inside the optimizer',
            r='power of $t$ in the averaging weights',
            weight_lr_power='$r$: power of $\\gamma_t$ in the averaging weights'),
        pitfalls=(
            'optimizer.train() before training and optimizer.eval() before every evaluation and '
            'checkpoint: the parameters hold $y$ in train mode and the average $x$ in eval mode; '
            'evaluating in train mode scores the wrong weights. In an mmengine Runner, '
            "custom_hooks=[dict(type='bocb_mm.ScheduleFreeHook')] does it (bocb_mm's "
            'build_config adds it; docs/wrappers.md)',
            'BatchNorm running statistics were collected at $y$: recompute them at $x$ (a few '
            'training batches in eval mode of the optimizer) before evaluating; the hook does it '
            'on bn_batches training batches',
            "the library's train() rebuilds $y$ from $x$ and $z$ with rounding, so a run resumed "
            'from an eval-mode checkpoint drifts from the uninterrupted one; the hook stores the '
            'exact $y$ in the checkpoint and restores it',
            'no lr schedule beyond its own warm-up: a decaying schedule defeats the averaging '
            '(the config check refuses one)',
            'the optimizer starts in eval mode: calling step() before train() raises',
            _CONFIGS)),
    'Cautious AdamW': dict(
        module='bocb_mm.optim.extensions', class_name='CautiousAdamW', requirement=TIMM,
        category='ADAPTIVE_LR', venue="arXiv'2024", paper='Cautious Optimizers: Improving '
        'Training with One Line of Code', arxiv='2411.16085',
        code='https://github.com/kyleliang919/C-Optim', weight_decay='decoupled',
        state_tensors=2, aliases=('CAdamW',),
        update_rule=(r'm \leftarrow \beta_1 m + (1-\beta_1) g, \quad '
                     r'v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad '
                     r'u = \hat m / (\sqrt{\hat v} + \epsilon) \\ '
                     r'\phi = \mathbb{1}[u \odot g > 0], \quad '
                     r'\theta \leftarrow \theta (1 - \eta\lambda) - \eta\, '
                     r'u \odot \phi / \max(\overline{\phi}, 10^{-3})'),
        hparams=dict(
            lr=_LR,
            betas='$(\\beta_1, \\beta_2)$ of the EMAs of $g$ and $g^2$',
            eps=_EPS + ' after the square root',
            weight_decay=_WD_DECOUPLED,
            amsgrad='normalise by the running maximum of $v$ (AMSGrad)',
            caution=_CAUTION + ' (True: this is what makes it Cautious AdamW)',
            corrected_weight_decay=_CORRECTED_WD,
            clipping_threshold='clip the update\'s RMS to this value (None: no clipping)'),
        pitfalls=(
            'timm\'s AdamWLegacy with caution=True (timm\'s \'cadamw\'); the class here only '
            'changes the default of caution, the step is timm\'s',
            'the mask is rescaled by its mean: when few coordinates agree in sign the kept ones '
            'are amplified (up to 1000x at the clamp)',
            _CONFIGS)),
}
