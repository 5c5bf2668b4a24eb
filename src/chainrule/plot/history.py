"""Training curves: every metric of a History, training and validation, one panel each."""
from chainrule.errors import ConfigError
from chainrule.plot.figure import require_matplotlib, save_figure


def history(history, path, title=None):
    """Draw the training and validation curves of every metric in *history* to a PNG at *path*.

    *history* is a ``History`` returned by ``Model.fit`` (or its ``.history`` dict of lists):
    each key ``m`` gets a panel, with ``val_m`` drawn beside it.  Returns *path*.
    """
    plt = require_matplotlib()
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ConfigError("history: expected a History or a non-empty dict of metric lists")
    keys = [k for k in logs if not k.startswith("val_")]
    keys += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in keys]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.4), squeeze=False)
    for ax, k in zip(axes[0], keys):
        for name, style in ((k, "-"), ("val_" + k, "--")):
            if name in logs:
                vals = list(logs[name])
                ax.plot(range(1, len(vals) + 1), vals, style, label=name)
        ax.set_xlabel("epoch")
        ax.set_title(k)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
