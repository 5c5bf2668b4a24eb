"""The catalogue's six schedules (CosineAnnealingWarmRestarts, CyclicLR, PolynomialLR, ConstantLR,
SequentialLR, ChainedScheduler) against PyTorch's over 120 steps, driving the new optimisers."""
import numpy as np
import pytest

import chainrule.optim as co
from chainrule.optim import lr_scheduler as S
from chainrule.tensor import Tensor

STEPS = 120


def _pair(opt_name, **kw):
    torch = pytest.importorskip("torch")
    lrs = (0.1, 0.02)
    ours = getattr(co, opt_name)([{"params": [Tensor(np.zeros(2), requires_grad=True)],
                                   "lr": lr} for lr in lrs], **kw)
    theirs = getattr(torch.optim, opt_name)([{"params": [torch.zeros(2, requires_grad=True)],
                                              "lr": lr} for lr in lrs], **kw)
    return ours, theirs


def _run(sched, tsched, opt, topt):
    for t in range(STEPS):
        opt.step(), topt.step()
        sched.step(), tsched.step()
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13, abs=1e-16), t
        assert [g["lr"] for g in opt.param_groups] == \
            pytest.approx([g["lr"] for g in topt.param_groups], rel=1e-13, abs=1e-16), t


@pytest.mark.parametrize("name, kwargs, opt_name, opt_kwargs", [
    ("CosineAnnealingWarmRestarts", dict(T_0=7, T_mult=2, eta_min=1e-3), "RAdam", {}),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=9, mode="triangular2"), "NAdam",
     dict(betas=(0.9, 0.99))),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=5, step_size_down=11,
                      mode="exp_range", gamma=0.99, cycle_momentum=False), "Adadelta", {}),
    ("PolynomialLR", dict(total_iters=90, power=1.5), "Rprop", {}),
    ("ConstantLR", dict(factor=0.3, total_iters=40), "ASGD", {}),
])
def test_schedule_matches_torch_over_120_steps(name, kwargs, opt_name, opt_kwargs):
    torch = pytest.importorskip("torch")
    opt, topt = _pair(opt_name, **opt_kwargs)
    sched = getattr(S, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    _run(sched, tsched, opt, topt)


def test_sequential_and_chained_match_torch_over_120_steps():
    torch = pytest.importorskip("torch")
    TS = torch.optim.lr_scheduler
    opt, topt = _pair("NAdam")
    seq = S.SequentialLR(opt, [S.ConstantLR(opt, 0.1, total_iters=10),
                               S.CosineAnnealingWarmRestarts(opt, T_0=15),
                               S.PolynomialLR(opt, total_iters=40)], milestones=[10, 70])
    tseq = TS.SequentialLR(topt, [TS.ConstantLR(topt, 0.1, total_iters=10),
                                  TS.CosineAnnealingWarmRestarts(topt, T_0=15),
                                  TS.PolynomialLR(topt, total_iters=40)], milestones=[10, 70])
    _run(seq, tseq, opt, topt)
    opt, topt = _pair("RAdam")
    ch = S.ChainedScheduler([S.ConstantLR(opt, 0.5, total_iters=30),
                             S.CosineAnnealingWarmRestarts(opt, T_0=25, eta_min=1e-4)])
    tch = TS.ChainedScheduler([TS.ConstantLR(topt, 0.5, total_iters=30),
                               TS.CosineAnnealingWarmRestarts(topt, T_0=25, eta_min=1e-4)])
    _run(ch, tch, opt, topt)
