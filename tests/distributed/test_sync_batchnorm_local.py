"""cr.nn.SyncBatchNorm in one process (no cr.distributed.init()): exactly BatchNorm1d/2d."""
import numpy as np
import pytest

import chainrule as cr


@pytest.mark.parametrize("shape,plain", [((6, 3), cr.nn.BatchNorm1d),
                                         ((6, 3, 5), cr.nn.BatchNorm1d),
                                         ((4, 3, 2, 5), cr.nn.BatchNorm2d)])
def test_equals_batchnorm_bit_for_bit(shape, plain):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 3 + 1
    results = []
    for cls in (plain, cr.nn.SyncBatchNorm):
        cr.manual_seed(0)
        bn = cls(3, momentum=None)
        bn.weight.data.copy_(cr.tensor([0.5, -2.0, 1.5]))
        xt = cr.tensor(x, requires_grad=True)
        for _ in range(2):
            y = bn(xt)
        (y * y).sum().backward()
        bn.eval()
        results.append([y._data, xt.grad._data, bn.weight.grad._data, bn.bias.grad._data,
                        bn.running_mean._data, bn.running_var._data, bn(xt)._data,
                        bn.num_batches_tracked._data])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_convert_shares_parameters_and_buffers():
    model = cr.nn.Sequential(cr.nn.Conv2d(1, 2, 3), cr.nn.BatchNorm2d(2),
                             cr.nn.Sequential(cr.nn.Flatten(), cr.nn.BatchNorm1d(8, affine=False)))
    model.eval()
    before = dict(model.state_dict())
    out = cr.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert out is model
    assert isinstance(model[1], cr.nn.SyncBatchNorm)
    assert isinstance(model[2][1], cr.nn.SyncBatchNorm)
    assert model[2][1].weight is None and not model[1].training
    after = model.state_dict()
    assert list(after) == list(before)
    assert all(after[k]._data is before[k]._data for k in before)    # the same memory
    bn = cr.nn.BatchNorm1d(4)
    sync = cr.nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    assert isinstance(sync, cr.nn.SyncBatchNorm) and sync.weight is bn.weight


def test_errors():
    with pytest.raises(cr.errors.ShapeError, match="at least 2D"):
        cr.nn.SyncBatchNorm(3)(cr.randn(3))
    with pytest.raises(cr.errors.ShapeError, match="3 channels"):
        cr.nn.SyncBatchNorm(3)(cr.randn(4, 2))
    with pytest.raises(TypeError, match="process_group"):
        cr.nn.SyncBatchNorm(3, process_group="world")


class _MirroredPair:
    """A process group of two ranks where the other rank holds the same data as this one: an
    Allreduce of sums doubles them. Lets the synchronised path run (and be differentiated) in
    one process."""

    def size(self):
        return 2

    def all_reduce_sum(self, array):
        array *= 2


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 3)])
def test_synchronised_path_passes_gradcheck_and_equals_batchnorm_on_the_doubled_batch(shape):
    """The Allreduce op's backward (the same Allreduce on the gradients) is consistent with its
    forward: gradcheck in float64 of the whole synchronised forward; and its output equals
    BatchNorm on the two ranks' batch (this one twice), as one process would compute it."""
    x = cr.tensor(np.random.default_rng(1).standard_normal(shape), requires_grad=True)
    bn = cr.nn.SyncBatchNorm(3, process_group=_MirroredPair()).to(cr.float64)
    bn.weight.data.copy_(cr.tensor([0.5, -2.0, 1.5], dtype=cr.float64))
    assert cr.autograd.gradcheck(lambda t: bn(t), (x,))
    plain = cr.nn.BatchNorm1d(3) if len(shape) == 2 else cr.nn.BatchNorm2d(3)
    plain = plain.to(cr.float64)
    plain.weight.data.copy_(bn.weight.data)
    whole = plain(cr.cat([x, x]))
    np.testing.assert_allclose(bn(x).detach().numpy(), whole[:shape[0]].detach().numpy(),
                               rtol=1e-12, atol=1e-12)
