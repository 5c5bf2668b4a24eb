"""Training checkpoints that never lose work: ``cr.save_checkpoint`` / ``cr.load_checkpoint``.

* resuming from a checkpoint continues bit for bit as the run that was never interrupted (model,
  Adam, StepLR, a shuffled DataLoader with its own generator, dropout on the default generator;
  and the Keras ``fit`` with ``initial_epoch``);
* a process SIGKILLed in the middle of saving, or a save that fails partway (a full disk), leaves
  the previous checkpoint loadable;
* a checkpoint of the wrong format version, with a wrong name, shape or dtype, or with bad
  optimiser, scheduler or generator state raises ``CheckpointError`` naming the entry and changes
  nothing;
* loading executes nothing from the file, and thousands of corrupted and truncated checkpoints
  and Keras model files meet only chainrule's own errors.
"""
import copy
import errno
import hashlib
import io
import os
import pickle
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule import serialization
from chainrule.checkpoint import load_checkpoint, save_checkpoint
from chainrule.data import DataLoader, TensorDataset
from chainrule.errors import ChainruleError, CheckpointError, SerializationError
from chainrule.keras.saving import model_to_dict
from chainrule.optim.lr_scheduler import StepLR

EPOCHS, RESUME_AT = 6, 3


# ---- a small training run ---------------------------------------------------------------------------
def _net():
    return cr.nn.Sequential(cr.nn.Linear(4, 16), cr.nn.ReLU(), cr.nn.Dropout(0.2),
                            cr.nn.Linear(16, 1))


def _data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, :1] - x[:, 1:2] > 0).astype(np.float32)
    return TensorDataset(cr.tensor(x), cr.tensor(y))


class Run:
    """Model, Adam, StepLR and a shuffled loader with its own generator, built from *seed*."""

    def __init__(self, seed=0):
        cr.manual_seed(seed)
        self.model = _net()
        self.opt = cr.optim.Adam(self.model.parameters(), lr=0.01)
        self.sched = StepLR(self.opt, step_size=2, gamma=0.5)
        self.gen = cr.Generator().manual_seed(seed + 100)
        self.loader = DataLoader(_data(), batch_size=8, shuffle=True, generator=self.gen)
        self.loss_fn = cr.nn.BCEWithLogitsLoss()
        self.losses = []

    def epoch(self):
        self.model.train()
        total = 0.0
        for x, y in self.loader:
            self.opt.zero_grad()
            loss = self.loss_fn(self.model(x), y)
            loss.backward()
            self.opt.step()
            total += loss.item()
        self.sched.step()
        self.losses.append(total)

    def weights(self):
        return [p.detach().numpy().copy() for p in self.model.parameters()]

    def save(self, path, epoch, extra=None):
        save_checkpoint(path, self.model, self.opt, self.sched, epoch=epoch, extra=extra,
                        generators={"loader": self.gen})

    def load(self, path, **kw):
        return load_checkpoint(path, self.model, self.opt, self.sched,
                               generators={"loader": self.gen}, **kw)

    def snapshot(self):
        buf = io.BytesIO()
        cr.save({"model": self.model.state_dict(), "opt": self.opt.state_dict(),
                 "sched": self.sched.state_dict(), "gen": self.gen.get_state(),
                 "rng": cr.get_rng_state()}, buf)
        return buf.getvalue()


def test_resume_continues_bit_identically(tmp_path):
    straight = Run()
    for _ in range(EPOCHS):
        straight.epoch()

    first = Run()
    for _ in range(RESUME_AT):
        first.epoch()
    path = tmp_path / "ckpt.cr"
    first.save(path, RESUME_AT, extra={"losses": first.losses})
    del first

    cr.manual_seed(12345)                        # disturb the default generator
    cr.randn(100)
    resumed = Run(seed=99)                       # other initial weights, order, everything
    epoch, extra = resumed.load(path)
    assert epoch == RESUME_AT and extra["losses"] == straight.losses[:RESUME_AT]
    resumed.losses = list(extra["losses"])
    for _ in range(RESUME_AT, EPOCHS):
        resumed.epoch()
    assert resumed.losses == straight.losses
    assert all(np.array_equal(a, b) for a, b in zip(resumed.weights(), straight.weights()))
    assert resumed.sched.get_last_lr() == straight.sched.get_last_lr()
    assert resumed.gen.get_state() == straight.gen.get_state()
    assert cr.get_rng_state()["state"] == cr.default_generator.get_state()["state"]


def _keras_model():
    inputs = cr.layers.Input(shape=(4,))
    h = cr.layers.Dense(16, activation="relu", name="hidden")(inputs)
    h = cr.layers.Dropout(0.2, name="drop")(h)
    out = cr.layers.Dense(1, activation="sigmoid", name="out")(h)
    model = cr.Model(inputs, out)
    model.compile(cr.keras.optimizers.Adam(learning_rate=0.01), "binary_crossentropy",
                  ["accuracy"])
    return model


def test_keras_fit_resumes_bit_identically_with_initial_epoch(tmp_path):
    ds = _data()
    x, y = ds.tensors[0].numpy(), ds.tensors[1].numpy()
    cr.manual_seed(0)
    straight = _keras_model()
    full = straight.fit(x, y, batch_size=8, epochs=EPOCHS, verbose=0).history

    cr.manual_seed(0)
    first = _keras_model()
    part = first.fit(x, y, batch_size=8, epochs=RESUME_AT, verbose=0).history
    path = tmp_path / "keras.cr"
    save_checkpoint(path, first, first.optimizer, epoch=RESUME_AT)

    cr.manual_seed(3)
    resumed = _keras_model()
    epoch, _ = load_checkpoint(path, resumed, resumed.optimizer)
    rest = resumed.fit(x, y, batch_size=8, epochs=EPOCHS, initial_epoch=epoch, verbose=0).history
    assert {k: part[k] + rest[k] for k in full} == full
    assert all(np.array_equal(a, b) for a, b in zip(resumed.get_weights(), straight.get_weights()))


# ---- never losing the previous checkpoint -----------------------------------------------------------
CHILD = r"""
import sys
import numpy as np
import chainrule as cr
path = sys.argv[1]
model = cr.nn.Linear(1000, 1000)
opt = cr.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(1, 10**9):
    with cr.no_grad():
        for p in model.parameters():
            p.data[...] = epoch
    cr.save_checkpoint(path, model, opt, epoch=epoch) if hasattr(cr, "save_checkpoint") else \
        __import__("chainrule.checkpoint").checkpoint.save_checkpoint(path, model, opt, epoch=epoch)
    print(epoch, flush=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_in_the_middle_of_saving_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "ckpt.cr"
    model = cr.nn.Linear(1000, 1000)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    save_checkpoint(path, model, opt, epoch=0)
    rng = random.Random(99)
    for _ in range(5):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                                 text=True)
        try:
            last = int(child.stdout.readline())   # one whole save done: now it is mid-loop
            time.sleep(rng.uniform(0.0, 0.2))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            child.stdout.close()
        epoch, _ = load_checkpoint(path, model, opt)
        assert epoch >= last
        assert all((p.detach().numpy() == epoch).all() for p in model.parameters())
    strays = [n for n in os.listdir(tmp_path) if n != "ckpt.cr"]
    assert all(n.startswith(".ckpt.cr.") and n.endswith(".tmp") for n in strays)


@pytest.mark.parametrize("fail", ["mid_write", "fsync", "rename"])
def test_a_save_that_fails_partway_keeps_the_previous_checkpoint(tmp_path, monkeypatch, fail):
    run = Run()
    run.epoch()
    path = tmp_path / "ckpt.cr"
    run.save(path, 1)
    old = path.read_bytes()
    run.epoch()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if fail == "mid_write":
        real = serialization._write_body

        def half(f, head, blobs):   # the header and part of the payload reach the disk
            f.write(head)
            f.write(memoryview(blobs[0][1].reshape(-1).view(np.uint8))[:10])
            disk_full()
        monkeypatch.setattr(serialization, "_write_body", half)
        assert real is not half
    elif fail == "fsync":
        monkeypatch.setattr(os, "fsync", disk_full)
    else:
        monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        run.save(path, 2)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["ckpt.cr"]          # no temporary file left behind
    assert Run(seed=5).load(path).epoch == 1


def test_unsaveable_extra_writes_nothing(tmp_path):
    run = Run()
    path = tmp_path / "ckpt.cr"
    run.save(path, 1)
    old = path.read_bytes()
    with pytest.raises(cr.errors.ArgumentTypeError,
                       match=r"obj\['extra'\]\['fn'\]: cannot save object"):
        run.save(path, 2, extra={"fn": print})
    assert path.read_bytes() == old


# ---- loading validates everything before changing anything ----------------------------------------
@pytest.fixture
def saved(tmp_path):
    run = Run()
    run.epoch()
    path = tmp_path / "ckpt.cr"
    run.save(path, 1, extra={"note": "ok"})
    return path


def _edit(path, tmp_path, change):
    obj = cr.load(path)
    change(obj)
    out = tmp_path / "edited.cr"
    cr.save(obj, out)
    return out


def _rename(d, old, new):
    d[new] = d.pop(old)


BAD_EDITS = [
    ("version_newer", lambda o: o.update(version=2), r"entry version: .*version 2, newer"),
    ("version_zero", lambda o: o.update(version=0), r"entry version: must be a positive int"),
    ("version_str", lambda o: o.update(version="1"), r"entry version: must be a positive int"),
    ("format", lambda o: o.update(format="chainrule.keras-model"), r"not a training checkpoint"),
    ("unknown_entry", lambda o: o.update(weights={}), r"entry 'weights': unexpected entry"),
    ("missing_entry", lambda o: o.pop("rng"), r"entry 'rng': missing"),
    ("epoch_type", lambda o: o.update(epoch=1.5), r"entry epoch: must be an int or None"),
    ("model_name", lambda o: _rename(o["model"], "0.weight", "0.weigth"),
     r"entry model\['0.weigth'\]: the model has no entry of that name. Did you mean '0.weight'"),
    ("model_missing", lambda o: o["model"].pop("3.bias"), r"entry model\['3.bias'\]: missing"),
    ("model_shape", lambda o: o["model"].update({"0.weight": cr.zeros(16, 5)}),
     r"entry model\['0.weight'\]: shape \(16, 5\) in the file, but the model's is \(16, 4\)"),
    ("model_dtype", lambda o: o["model"].update({"3.bias": cr.zeros(1, dtype=cr.float64)}),
     r"entry model\['3.bias'\]: dtype float64 in the file, but the model's is float32"),
    ("model_not_tensor", lambda o: o["model"].update({"3.bias": [0.0]}),
     r"entry model\['3.bias'\]: expected a tensor, found list"),
    ("opt_missing", lambda o: o.update(optimizer=None), r"entry optimizer: the checkpoint holds no"),
    ("opt_groups", lambda o: o["optimizer"]["param_groups"].append(
        copy.deepcopy(o["optimizer"]["param_groups"][0])),
     r"entry optimizer\['param_groups'\]: 2 parameter groups in the file, 1 in the optimizer"),
    ("opt_params", lambda o: o["optimizer"]["param_groups"][0]["params"].pop(),
     r"\['params'\]: 3 parameters in the file, 4 in the optimizer's group"),
    ("opt_setting_name", lambda o: _rename(o["optimizer"]["param_groups"][0], "lr", "lrr"),
     r"\['lrr'\]: the optimizer has no setting of that name. Did you mean 'lr'"),
    ("opt_setting_type", lambda o: o["optimizer"]["param_groups"][0].update(lr="fast"),
     r"\['lr'\]: found 'fast', but the live setting is"),
    ("opt_betas", lambda o: o["optimizer"]["param_groups"][0].update(betas=(0.9,)),
     r"\['betas'\]: 1 values in the file, 2 live"),
    ("opt_lr_inf", lambda o: o["optimizer"]["param_groups"][0].update(lr=float("inf")),
     r"\['param_groups'\]\[0\]: Invalid learning rate: inf \(refused by Adam's own checks"),
    ("opt_lr_negative", lambda o: o["optimizer"]["param_groups"][0].update(lr=-1.0),
     r"\['param_groups'\]\[0\]: Invalid learning rate: -1.0"),
    ("opt_betas_huge", lambda o: o["optimizer"]["param_groups"][0].update(betas=(1e308, 0.999)),
     r"\['param_groups'\]\[0\]: Invalid beta parameter at index 0: 1e\+308"),
    ("opt_weight_decay_inf", lambda o: o["optimizer"]["param_groups"][0].update(
        weight_decay=float("inf")), r"Invalid weight_decay value: inf"),
    ("opt_state_shape", lambda o: o["optimizer"]["state"][0].update(exp_avg=cr.zeros(16, 3)),
     r"entry optimizer\['state'\]\[0\]\['exp_avg'\]: shape \(16, 3\) in the file, but the "
     r"optimizer keeps \(16, 4\)"),
    ("opt_state_missing", lambda o: o["optimizer"]["state"][1].pop("exp_avg_sq"),
     r"entry optimizer\['state'\]\[1\]\['exp_avg_sq'\]: missing from the file"),
    ("opt_state_unknown", lambda o: o["optimizer"]["state"][1].update(exp_avgg=cr.zeros(16)),
     r"\['exp_avgg'\]: the optimizer keeps no state of that name. Did you mean 'exp_avg'"),
    ("opt_state_kind", lambda o: o["optimizer"]["state"][3].update(step=[1.0]),
     r"entry optimizer\['state'\]\[3\]\['step'\]: expected an array, found \[1.0\]"),
    ("opt_setting_none", lambda o: o["optimizer"]["param_groups"][0].update(eps=None),
     r"\['eps'\]: found None, but the live setting is 1e-08"),
    ("opt_state_dtype", lambda o: o["optimizer"]["state"][2].update(
        exp_avg_sq=cr.zeros(1, 16, dtype=cr.float64)), r"\['exp_avg_sq'\]: dtype float64"),
    ("opt_state_nan", lambda o: o["optimizer"]["state"][1]["exp_avg"]._data.__setitem__(0, np.nan),
     r"\['exp_avg'\]: holds NaN"),
    ("opt_state_index", lambda o: o["optimizer"]["state"].update({7: {}}),
     r"entry optimizer\['state'\]\[7\]: no parameter with that index"),
    ("sched_missing", lambda o: o.update(scheduler=None), r"entry scheduler: the checkpoint holds"),
    ("sched_key", lambda o: o["scheduler"].update(optimizer="x"),
     r"entry scheduler\['optimizer'\]: the StepLR has no setting of that name"),
    ("sched_type", lambda o: o["scheduler"].update(last_epoch="one"),
     r"entry scheduler\['last_epoch'\]: found 'one'"),
    ("sched_lr_list", lambda o: o["scheduler"].update(base_lrs=[0.1, 0.2]),
     r"entry scheduler\['base_lrs'\]: 2 values in the file, 1 live"),
    ("rng_state", lambda o: o["rng"]["default"].update(state=-1),
     r"entry rng\['default'\]: .*'state' must be an int"),
    ("rng_kind", lambda o: o["rng"]["default"].update(bit_generator="MT19937"),
     r"entry rng\['default'\]: .*PCG64"),
    ("rng_generator", lambda o: o["rng"]["generators"].clear(),
     r"entry rng\['generators'\]\['loader'\]: no generator of that name in the file"),
]


@pytest.mark.parametrize("name, change, message", BAD_EDITS, ids=[b[0] for b in BAD_EDITS])
def test_a_wrong_entry_is_named_and_changes_nothing(saved, tmp_path, name, change, message):
    bad = _edit(saved, tmp_path, change)
    run = Run(seed=3)
    run.epoch()
    before = run.snapshot()
    with pytest.raises(CheckpointError, match=message) as e:
        run.load(bad)
    assert repr(str(bad)) in str(e.value)
    assert run.snapshot() == before


def test_a_failure_while_applying_rolls_everything_back(saved, monkeypatch):
    run = Run(seed=3)
    run.epoch()
    before = run.snapshot()

    real, calls = cr.random.set_rng_state, []

    def fails_once(state):   # the last step of loading fails, after model, optimizer, scheduler
        calls.append(state)
        if len(calls) == 1:
            raise RuntimeError("simulated failure restoring the generator")
        real(state)
    monkeypatch.setattr(cr.random, "set_rng_state", fails_once)
    with pytest.raises(CheckpointError, match="simulated failure"):
        run.load(saved)
    monkeypatch.undo()
    assert run.snapshot() == before


def test_loading_weights_only_and_leaving_the_rng_alone(saved):
    model = _net()
    cr.manual_seed(4)
    rng = cr.get_rng_state()
    epoch, extra = load_checkpoint(saved, model, restore_rng=False)
    assert (epoch, extra) == (1, {"note": "ok"}) and cr.get_rng_state() == rng
    assert all(np.array_equal(a.numpy(), b.numpy())
               for a, b in zip(model.state_dict().values(), cr.load(saved)["model"].values()))


def test_bad_arguments(tmp_path):
    model = _net()
    with pytest.raises(CheckpointError, match="epoch must be an int or None, got 'one'"):
        save_checkpoint(tmp_path / "c.cr", model, epoch="one")
    with pytest.raises(CheckpointError, match="generators must map names"):
        save_checkpoint(tmp_path / "c.cr", model, generators={"g": np.random.default_rng()})
    assert not (tmp_path / "c.cr").exists()
    save_checkpoint(tmp_path / "c.cr", model)
    with pytest.raises(CheckpointError, match="generators must be a dict"):
        load_checkpoint(tmp_path / "c.cr", model, generators=[cr.Generator()])
    cr.save({"model": model.state_dict()}, tmp_path / "plain.cr")
    with pytest.raises(CheckpointError, match="not a training checkpoint.*cr.load"):
        load_checkpoint(tmp_path / "plain.cr", model)


@pytest.fixture
def no_code_from_files(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("loading ran code from the file")
    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    monkeypatch.setattr("builtins.eval", forbidden)


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_loading_never_executes_code_from_the_file(saved, tmp_path, no_code_from_files):
    run = Run(seed=1)
    assert run.load(saved).epoch == 1                      # a valid file needs no pickle
    evil = tmp_path / "evil.cr"
    evil.write_bytes(pickle.dumps({"model": _Boom()}))
    with pytest.raises(SerializationError, match="never unpickles"):
        run.load(evil)
    torch_like = tmp_path / "torch.pt"
    torch_like.write_bytes(b"PK\x03\x04" + pickle.dumps(_Boom()))
    with pytest.raises(SerializationError, match="pickle or zip"):
        run.load(torch_like)


# ---- fuzzing: corrupted and truncated files meet only chainrule's errors --------------------------
def _reseal(data):
    """*data* with its trailing SHA-256 recomputed, so the loader reads past the checksum."""
    data = bytearray(data)
    data[-32:] = hashlib.sha256(bytes(data[:-32])).digest()
    return bytes(data)


POOL = [None, True, False, 0, -1, 1, 3, 2 ** 70, -2 ** 63, 0.5, float("nan"), float("inf"), "",
        "x", "lr", "0.weight", [], [1, 2], [None], {}, {"a": 1}, {0: {}}, (1,), np.zeros(3),
        np.zeros((16, 4), np.float32), np.zeros((2, 2), np.float64), np.zeros(0),
        np.array([1], np.int8), np.array(5, np.int64), cr.zeros(16, 4), cr.ones(1),
        cr.zeros(1, 16, dtype=cr.float64)]


def _paths(obj, at=()):
    yield at, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, at + (k,))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _paths(v, at + (i,))


def _mutate(obj, rng):
    """One random structural change: delete, replace, rename, reshape, recast, wrap."""
    spots = list(_paths(obj))[1:]
    at, value = spots[rng.integers(len(spots))]
    parent = obj
    for k in at[:-1]:
        parent = parent[k]
    key = at[-1]
    if isinstance(parent, tuple):
        return                                     # tuples (betas) are replaced as a whole
    op = rng.integers(7)
    if op == 0:
        del parent[key]
    elif op == 1 or not isinstance(value, (Tensor_, np.ndarray)) and op in (3, 4):
        new = POOL[rng.integers(len(POOL))]
        parent[key] = copy.deepcopy(new)
    elif op == 2 and isinstance(parent, dict):
        parent[rng.choice(["x", "lr", key if isinstance(key, int) else 99]) if
               rng.integers(2) else str(key) + "_"] = parent.pop(key)
    elif op == 3:
        arr = value._data if isinstance(value, Tensor_) else value
        dtype = ["float16", "float32", "float64", "int64", "bool", "uint8"][rng.integers(6)]
        parent[key] = cr.tensor(arr.astype(dtype)) if isinstance(value, Tensor_) else \
            arr.astype(dtype)
    elif op == 4:
        arr = value._data if isinstance(value, Tensor_) else value
        flat = arr.reshape(-1)
        shape = [(flat.size,), (1, flat.size), (flat.size // 2,), (0,), (2, 3, 1)][rng.integers(5)]
        parent[key] = np.resize(flat, shape)
    elif op == 5:
        parent[key] = [value]
    elif isinstance(value, (Tensor_, np.ndarray)) and value.size and value.dtype.kind == "f":
        arr = np.array(value._data if isinstance(value, Tensor_) else value)
        arr.reshape(-1)[0] = [np.nan, np.inf, 1e30][rng.integers(3)]
        parent[key] = arr


Tensor_ = cr.Tensor


def _corrupted(valid, rng, count):
    """*count* damaged versions of the file *valid*: structural edits re-saved, byte flips in the
    header (resealed, so they get past the checksum), byte flips anywhere, truncations."""
    obj = cr.load(io.BytesIO(valid))
    header_end = 22 + int.from_bytes(valid[14:22], "little")
    for i in range(count):
        kind = i % 4
        if kind in (0, 1):
            mutated = copy.deepcopy(obj)
            for _ in range(1 + rng.integers(3)):
                _mutate(mutated, rng)
            buf = io.BytesIO()
            try:
                cr.save(mutated, buf)
            except ChainruleError:
                continue
            yield buf.getvalue()
        elif kind == 2:
            data = bytearray(valid)
            for _ in range(1 + rng.integers(4)):
                pos = rng.integers(10, header_end)
                data[pos] = rng.integers(256) if rng.integers(2) else ord(rng.choice(list('0{}[]",:-9e')))
            yield _reseal(data)
        else:
            data = bytearray(valid)
            if rng.integers(2):
                yield bytes(data[:rng.integers(len(data))])
            else:
                data[rng.integers(len(data))] ^= 1 << rng.integers(8)
                yield bytes(data)


def _loads_cleanly(load, data, tmp_path):
    path = tmp_path / "fuzz.cr"
    path.write_bytes(data)
    try:
        load(path)
    except ChainruleError:
        return False
    return True


def test_fuzzed_checkpoints_meet_only_chainrule_errors(saved, tmp_path):
    rng = np.random.default_rng(2024)
    run = Run(seed=1)
    valid = saved.read_bytes()
    loaded = failed = 0
    for data in _corrupted(valid, rng, 1600):
        before = run.snapshot()
        if _loads_cleanly(run.load, data, tmp_path):
            loaded += 1
        else:
            failed += 1
            assert run.snapshot() == before, "a failed load changed state"
    assert failed > 1000 and loaded > 0


def _load_and_predict(path):
    """Load a model file; if it loads, the model must also run (or refuse cleanly)."""
    model = cr.load_model(path)
    if model.inputs:
        shape = tuple(1 if d is None else d for d in model.inputs[0].shape[1:])
        model.predict(np.zeros((2,) + shape, dtype=np.float32), verbose=0)


def test_fuzzed_keras_model_files_meet_only_chainrule_errors(tmp_path):
    cr.manual_seed(0)
    inputs = cr.layers.Input(shape=(4,), name="x")
    norm = cr.layers.Normalization(name="norm")
    norm.adapt(np.random.default_rng(0).normal(size=(20, 4)))
    h = cr.layers.Dense(8, activation="relu", name="hidden")(norm(inputs))
    h = cr.layers.BatchNormalization(name="bn")(cr.layers.Dropout(0.1, name="drop")(h))
    out = cr.layers.Dense(1, activation="sigmoid", name="out")(h)
    model = cr.Model(inputs, out)
    model.compile("adam", "binary_crossentropy", ["accuracy"])
    buf = io.BytesIO()
    cr.save(model_to_dict(model), buf)
    rng = np.random.default_rng(77)
    outcomes = [_loads_cleanly(_load_and_predict, data, tmp_path)
                for data in _corrupted(buf.getvalue(), rng, 800)]
    assert outcomes.count(False) > 400 and outcomes.count(True) > 0
