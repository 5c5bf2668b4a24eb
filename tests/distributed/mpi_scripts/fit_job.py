"""The Keras-style fit, run as one process (`python fit_job.py OUT`) or data-parallel
(`mpiexec -n 2 python fit_job.py OUT`): rank 0 (or the one process) saves the final weights and
validation loss to OUT as .npz, for the test to compare.

29 rows in batches of 7: the last batch has one row, so one rank's share of it is empty.
"""
import sys

import numpy as np

import chainrule as cr

cr.set_default_dtype(cr.float64)
if cr.distributed.launched_size() > 1:
    cr.distributed.init()
cr.manual_seed(0)
rng = np.random.default_rng(1)
x = rng.standard_normal((29, 4))
y = (x @ rng.standard_normal((4, 1)) > 0).astype(np.float64)
xv = rng.standard_normal((11, 4))
yv = (xv.sum(1, keepdims=True) > 0).astype(np.float64)
model = cr.Sequential([cr.layers.Input((4,)), cr.layers.Dense(6, activation="tanh"),
                       cr.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=cr.keras.optimizers.Adam(learning_rate=0.05), loss="binary_crossentropy",
              metrics=["accuracy"])
history = model.fit(x, y, batch_size=7, epochs=4, shuffle=True, validation_data=(xv, yv),
                    verbose=2)
if cr.distributed.is_main_process():
    weights = np.concatenate([p._data.ravel() for p in model.parameters()])
    np.savez(sys.argv[1], weights=weights, val_loss=np.array(history.history["val_loss"]))
if cr.distributed.is_distributed():
    mine = cr.tensor(np.concatenate([p._data.ravel() for p in model.parameters()]))
    parts = [cr.zeros_like(mine) for _ in range(cr.distributed.size())]
    cr.distributed.all_gather(parts, mine)
    assert all(np.array_equal(p._data, parts[0]._data) for p in parts), "ranks differ after fit"
