"""Writing a file as ``open(path, "wb")`` would, but atomically: ``write_atomic(path, write)``.

``write_atomic`` writes through a temporary file beside the target, fsyncs it and ``os.replace``-s
it onto the target, so a crash, a kill or a full disk in mid-write leaves the previous file whole.
Around that atomic core the file behaves as one opened with ``open(path, "wb")`` (and as
``torch.save`` writes it):

* a **symbolic link** is written through: the link stays a link and its target gets the new data
  (a dangling link's target is created); a link that loops is refused;
* an existing file **keeps its mode** (a private ``0600`` checkpoint stays private; the temporary
  file is ``0600`` until then) and, where permitted, its owner and group; a new file gets the
  umask's mode, as ``open`` gives it;
* a **directory**, a **FIFO**, a **device** or a socket is refused, and so is a target the caller
  may not write (a read-only file), with :class:`FileError` naming the path the caller gave;
* a **hard link** is split: the rename gives the path a new inode, so other names of the old
  file keep the old data (as ``git``, ``rsync`` and editors that save by renaming do). Writing in
  place would keep the link, at the price of a torn file on a crash; chainrule keeps atomicity.

Temporary files are named ``.<name>.<pid>-<random>.tmp``. An exception (``KeyboardInterrupt`` from
SIGINT included) removes its temporary file; so does SIGTERM, SIGINT or SIGHUP arriving in the main
thread while the signal's action is the default one (the process then dies by that signal, as it
would have). A temporary file that a killed process left (SIGKILL, power loss) is removed by the
next save to the same target, once its process no longer runs. Errors name the caller's path,
never the temporary one. Example::

    >>> write_atomic("notes.txt", lambda f: f.write(b"hello\\n"))
    >>> open("notes.txt", "rb").read()
    b'hello\\n'
"""
import errno
import os
import re
import secrets
import signal
import stat
import threading

from chainrule.errors import ChainruleError, FileError  # FileError is re-exported: it lived here

__all__ = ["FileError", "write_atomic"]

_ACTIVE = set()   # temporary files this process is writing now (never removed as stale)
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP")
                 if hasattr(signal, name))


class _Terminated(BaseException):
    """Raised in the main thread by a terminating signal that arrived during a save."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def write_atomic(path, write, what="save"):
    """Call ``write(f)`` on a fresh binary file, then put that file at *path* in one atomic step.

    *path* is a ``str``, ``bytes`` or ``os.PathLike``; *what* names the operation in error messages.
    See the module's docstring for symbolic links, modes, special files and hard links. Example::

        >>> write_atomic("out.bin", lambda f: f.write(bytes(3)))
    """
    given = os.fsdecode(os.fspath(path))
    target, existing = _target(given, what)
    directory, base = os.path.split(target)
    _remove_stale(directory, base)
    made = []     # the temporary file's name, known before the file exists
    caught = []   # the signals caught, known as each is caught
    try:
        try:
            _catch_signals(caught)   # before the file exists: no moment leaves it behind
            fd = _create(directory, base, existing, given, what, made)
            _fill_and_replace(made[0], fd, target, existing, write, given, what)
        finally:
            _restore_signals(caught)
    except BaseException as e:   # also between os.open and its return, where no one else can see it
        for tmp in made:
            _ACTIVE.discard(tmp)
            _unlink(tmp)   # gone already after a failed write; never there after os.replace
        if isinstance(e, _Terminated):   # now die of the signal, as intended
            signal.signal(e.signum, signal.SIG_DFL)
            os.kill(os.getpid(), e.signum)
            raise SystemExit(128 + e.signum) from None
        raise
    _sync_directory(directory)


def _target(given, what):
    """The real path to write (symbolic links resolved) and its ``stat`` (None when it is new)."""
    if given == "":
        raise FileError(f"{what}: the path is empty", errno.ENOENT, given)
    target = os.path.realpath(given)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target, None
    except OSError as e:
        why = "a symbolic link that loops" if e.errno == errno.ELOOP else e.strerror
        raise FileError(f"{what}: cannot write {given!r}: {why}", e.errno, given) from None
    if stat.S_ISDIR(st.st_mode):
        raise FileError(f"{what}: {given!r} is a directory", errno.EISDIR, given)
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a special file")
        raise FileError(f"{what}: {given!r} is {kind}, not a regular file; chainrule writes "
                        f"only regular files", errno.EINVAL, given)
    if not os.access(target, os.W_OK):
        raise FileError(f"{what}: {given!r} is not writable (mode {stat.filemode(st.st_mode)}); "
                        f"change its permissions or write elsewhere", errno.EACCES, given)
    return target, st


def _temp_pattern(base):
    return re.compile(re.escape("." + base[:100] + ".") + r"(\d+)-[0-9a-f]{12}\.tmp\Z")


def _remove_stale(directory, base):
    """Remove temporary files of *base* left by processes that no longer run."""
    if os.name != "posix":   # no cheap, harmless liveness test elsewhere (os.kill terminates)
        return
    pattern = _temp_pattern(base)
    try:
        names = [name for name in os.listdir(directory) if name.startswith("." + base[:100])]
    except OSError:
        return
    for name in names:
        match = pattern.match(name)
        path = os.path.join(directory, name)
        if match is None or path in _ACTIVE:
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and _alive(pid):
            continue
        try:
            os.unlink(path)
        except OSError:
            pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True   # someone else's process (or an absurd number): leave its file alone
    return True


def _create(directory, base, existing, given, what, made):
    """A new temporary file beside the target (its name put in *made* first); returns its fd.

    The file is 0600 when it replaces a file, else it gets the umask's mode.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{base[:100]}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
        _ACTIVE.add(tmp)   # before it exists: another thread's save never takes it for stale
        made[:] = [tmp]
        try:
            return os.open(tmp, flags, 0o600 if existing is not None else 0o666)
        except FileExistsError:
            _ACTIVE.discard(tmp)
            made.clear()   # someone else's file: never ours to remove
        except OSError as e:
            _ACTIVE.discard(tmp)
            made.clear()
            if isinstance(e, FileNotFoundError):
                why = f"the folder {directory!r} does not exist"
            elif isinstance(e, PermissionError):
                why = f"no permission to create files in {directory!r}"
            else:
                why = e.strerror or str(e)
            raise FileError(f"{what}: cannot write {given!r}: {why}", e.errno, given) from None


def _fill_and_replace(tmp, fd, target, existing, write, given, what):
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                if existing is not None:
                    _copy_mode(f.fileno(), existing)
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException as e:
            _unlink(tmp)
            if isinstance(e, OSError) and not isinstance(e, ChainruleError):
                raise FileError(f"{what}: cannot write {given!r}: {e.strerror or e}", e.errno,
                                given) from None
            raise
    finally:
        _ACTIVE.discard(tmp)


def _copy_mode(fd, st):
    """Give the new file the mode (and, where permitted, the owner) of the one it replaces."""
    if hasattr(os, "fchown") and (st.st_uid, st.st_gid) != _owner(fd):
        for uid in (st.st_uid, -1):   # owner and group; else the group alone (a shared file)
            try:
                os.fchown(fd, uid, st.st_gid)
                break
            except OSError:
                pass   # not permitted: the file is ours, as a new file would be
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(st.st_mode))


def _owner(fd):
    st = os.fstat(fd)
    return st.st_uid, st.st_gid


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _on_signal(signum, frame):
    raise _Terminated(signum)


def _catch_signals(caught):
    """Turn terminating signals whose action is the default into ``_Terminated`` for a while.

    Each signal is put in *caught* before its handler is set, so that a signal arriving in
    the middle still finds its action restored by :func:`_restore_signals`.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _SIGNALS:
        try:
            if signal.getsignal(signum) is signal.SIG_DFL:
                caught.append(signum)
                signal.signal(signum, _on_signal)
        except (OSError, ValueError):
            pass


def _restore_signals(caught):
    while caught:
        signal.signal(caught[-1], signal.SIG_DFL)
        caught.pop()


def _sync_directory(directory):
    """Make the rename itself durable; not possible on every platform."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
