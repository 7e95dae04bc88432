"""Stop the embedded database server when the Parcours process that owns it dies.

Run by path, not as `app.embedded_watch`, so that it starts without importing Flask:
    python embedded_watch.py OWNER_PID SERVER_PID

The owner starts this watcher beside each server it spawns. When the owner goes away without
stopping its server (kill -9, the OOM killer), the watcher sends the server SIGTERM, so that
SecantusDB closes its storage cleanly, and SIGKILL if it is still there after a grace period.

Why not Linux's parent-death signal: SecantusDB waits for SIGTERM on its main thread, and a
SIGTERM sent by the kernel at the parent's death was lost in 3 to 15 % of kills under load
(the server then outlived its owner for good). The kernel sends it to the process, and
`terminate` explains why only one sent to the main thread is sure to be handled.

The owner also imports this module, for `terminate`.
"""

import contextlib
import ctypes
import os
import select
import signal
import sys
import time

POLL_SECONDS = 0.2
GRACE_SECONDS = 30.0


def _open_pid(pid):
    """A pidfd becomes readable when the process exits, even before its parent reaps it."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _exited(pid, pidfd):
    """Whether the process ended. Without a pidfd (not Linux), a zombie counts as alive."""
    if pidfd is not None:
        return bool(select.select([pidfd], [], [], 0)[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait_exit(pid, pidfd, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _exited(pid, pidfd):
            return True
        time.sleep(POLL_SECONDS)
    return _exited(pid, pidfd)


def watch(owner, server):
    server_fd = _open_pid(server)
    if server_fd is None and _exited(server, None):
        return
    # We are the owner's child: when it dies we are handed to another parent.
    while os.getppid() == owner:
        if _exited(server, server_fd):
            return
        time.sleep(POLL_SECONDS)
    terminate(server, server_fd)
    if not _wait_exit(server, server_fd, GRACE_SECONDS):
        _signal(server, server_fd, signal.SIGKILL)


def terminate(pid, pidfd=None):
    """SIGTERM to the server's main thread itself; the owner stops its server with it too.

    Sent to the process, the kernel may hand it to another thread, busy closing the dead
    owner's connections: Python notes it, but the main thread, asleep in Event.wait(), never
    runs the handler (1 kill in 30 under load was still lost that way; sent to the main
    thread, none in 120)."""
    if _exited(pid, pidfd):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        sent = libc.tgkill(pid, pid, signal.SIGTERM) == 0  # the main thread's id is the pid
    except (AttributeError, OSError):  # not Linux, or a C library without tgkill
        sent = False
    if not sent:
        _signal(pid, pidfd, signal.SIGTERM)


def _signal(pid, pidfd, signum):
    """Through the pidfd when there is one: a pid alone may since name another process."""
    if _exited(pid, pidfd):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if pidfd is not None:
            signal.pidfd_send_signal(pidfd, signum)
        else:
            os.kill(pid, signum)


if __name__ == "__main__":
    watch(int(sys.argv[1]), int(sys.argv[2]))
