"""What every picture shares: importing matplotlib (optional) and writing a figure to a PNG."""
import os

DPI = 110


def require_matplotlib():
    """Import matplotlib with a headless backend, or raise saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("this plot needs matplotlib, which is not installed: "
                          "pip install 'chainrule[plot]' (or pip install matplotlib)") from None
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path):
    """Write *fig* to *path* (creating its folder), close it, and return *path*."""
    os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
    fig.savefig(path, dpi=DPI)
    require_matplotlib().close(fig)
    return path
