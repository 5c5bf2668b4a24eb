"""Backprop through a black box: a network aims a cannon whose physics it cannot differentiate.

The lectures' hybrid.  A small network maps a target distance d to a launch angle and speed.
Where the shell lands is computed by a NumPy simulator — Euler steps with air drag, the landing
point read off at the last time step above ground, so it moves in jumps and has no useful
derivative — and the cost is the squared miss plus a small charge for powder (speed²).

Training: the forward pass runs the network, then the simulator (``blackbox``).  The backward
pass estimates d cost / d (angle, speed) by central differences — each shot's cost depends on its
own row only, so all rows are perturbed together: four simulator runs per step — and ordinary
backprop carries that estimate on through the network's weights.  Adam does the rest.

    python examples/blackbox_hybrid.py
"""
import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim.zeroth_order import blackbox

G, DRAG, DT, STEPS = 9.81, 0.02, 0.02, 500


def fly(aim):
    """The simulator: where each shot lands, and its speed, from raw network outputs (N, 2)."""
    angle = 0.6 + 0.3 * aim[:, 0]                  # radians, around 34°
    speed = 9.0 + 2.0 * aim[:, 1]                  # m/s
    vx, vy = speed * np.cos(angle), speed * np.sin(angle)
    x, y = np.zeros_like(vx), np.zeros_like(vy)
    landed = np.zeros_like(vx)
    flying = np.ones(vx.shape, bool)
    for _ in range(STEPS):
        v = np.hypot(vx, vy)
        vx, vy = vx - DRAG * v * vx * DT, vy - (G + DRAG * v * vy) * DT
        x, y = x + vx * DT, y + vy * DT
        hit = flying & (y < 0)
        landed[hit] = x[hit] - vx[hit] * DT        # the last position above ground: a step
        flying &= ~hit
        if not flying.any():
            break
    landed[flying] = x[flying]
    return landed, speed


def simulate(aim, targets):
    """The black-box cost of each shot: miss² + 0.0005·speed²."""
    landed, speed = fly(aim)
    return (landed - targets) ** 2 + 0.0005 * speed ** 2


def main(steps=200, batch=64, seed=0):
    cr.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 2))
    opt = optim.Adam(net.parameters(), lr=0.01)
    test = np.linspace(3.0, 10.0, 8)
    with cr.no_grad():
        aim0 = net(cr.tensor(test.reshape(-1, 1) / 10, dtype=cr.float32)).numpy()

    for step in range(1, steps + 1):
        d = rng.uniform(3.0, 10.0, batch)                   # target distances, metres
        aim = net(cr.tensor(d.reshape(-1, 1) / 10, dtype=cr.float32))
        cost = blackbox(lambda a: simulate(a, d), method="central", eps=0.05)(aim)
        opt.zero_grad()
        cost.backward()        # perturbation estimate at the box, backprop through the network
        opt.step()
        if step == 1 or step % 50 == 0:
            print(f"step {step:4d}   mean cost {cost.item():8.4f}")

    with cr.no_grad():
        aim = net(cr.tensor(test.reshape(-1, 1) / 10, dtype=cr.float32)).numpy()
    before, after = simulate(aim0, test), simulate(aim, test)
    print("\ntarget   lands before   lands after   (metres)")
    for t, b, a in zip(test, fly(aim0)[0], fly(aim)[0]):
        print(f"{t:6.1f}   {b:12.2f}   {a:11.2f}")
    print(f"\nmean cost on the test targets: {before.mean():.4f} -> {after.mean():.4f}")
    return before.mean(), after.mean()


if __name__ == "__main__":
    main()
