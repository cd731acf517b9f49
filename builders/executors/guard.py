"""Run a build command so that it dies with the process that started it.

``python guard.py CMD...`` (started in a new session, so it leads its own process group)
runs CMD in that group and watches its own stdin, a pipe whose other end only the
starting process holds. When that process dies, even by SIGKILL, the kernel closes the
pipe; the guard sees end-of-file and kills the whole group: repo2docker and the
``docker buildx`` client under it, which ends the build in the engine. A launcher that
is killed mid-build so leaves no build running that nobody will report, and a restarted
launcher never runs a second build beside an orphaned first one.

Run as a file, not as ``-m builders...``: importing the package would load Docker and
repo2docker code into a process that only waits. Standard library only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading


def _kill_group_on_eof() -> None:
    while os.read(0, 4096):  # nothing is ever written; a read returns b"" at EOF
        pass
    os.killpg(0, signal.SIGKILL)  # the command's whole process group, this process too


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: guard.py COMMAND [ARG...]", file=sys.stderr)
        return 2
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)  # noqa: S603 -- the executor's own command
    threading.Thread(target=_kill_group_on_eof, daemon=True).start()
    code = child.wait()
    return 128 - code if code < 0 else code  # killed by signal N: the shell's 128 + N


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
