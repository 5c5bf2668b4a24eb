#!/usr/bin/env python3
"""The project's two commands, for a fresh clone with only Python 3.11+.

    python3 run.py heart     # the main job: train the heart-disease model (chainrule train heart)
    python3 run.py test      # the whole test suite

Both create ./.venv on first use and install chainrule into it (editable, with its test, plot
and docs extras).  Any further arguments are passed on: ``python3 run.py heart --epochs 50``,
``python3 run.py test -k autograd``.  ``python3 run.py setup`` only prepares the environment.
"""
import hashlib
import os
import subprocess
import sys
import venv

ROOT = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(ROOT, ".venv")
BIN = os.path.join(VENV, "Scripts" if os.name == "nt" else "bin")
PY = os.path.join(BIN, "python")
EXTRAS = "test,plot,docs"


def ensure_env():
    """Create .venv and install chainrule with its test and plot extras (once per pyproject)."""
    if sys.version_info < (3, 11):
        sys.exit(f"chainrule needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not os.path.exists(PY):
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        stamp = hashlib.sha256(f.read() + EXTRAS.encode()).hexdigest()
    stamp_file = os.path.join(VENV, ".chainrule-installed")
    if not os.path.exists(stamp_file) or open(stamp_file).read() != stamp:
        print("installing chainrule and its dependencies into .venv ...", flush=True)
        subprocess.check_call([PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               "-e", f"{ROOT}[{EXTRAS}]"])
        with open(stamp_file, "w") as f:
            f.write(stamp)


def main(argv):
    if not argv or argv[0] not in ("heart", "test", "setup"):
        print(__doc__)
        return 2
    ensure_env()
    cmd, rest = argv[0], argv[1:]
    if cmd == "setup":
        return 0
    if cmd == "heart":
        return subprocess.call([PY, "-m", "chainrule", "train", "heart", *rest], cwd=ROOT)
    return subprocess.call([PY, "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
