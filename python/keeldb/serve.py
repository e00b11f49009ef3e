"""keeldb.serve: a DynamoDB endpoint on a keel file, for tests and notebooks.

``serve(path, port=0)`` starts ``keel serve PATH`` (the C server, tools/keel/serve.c) as a
subprocess on loopback and returns a :class:`Server` whose ``endpoint_url`` boto3, PynamoDB
and the AWS CLI can use; ``close()`` (or leaving the ``with`` block) stops it with SIGTERM:
requests in flight finish, the file is synced and closed. A subprocess rather than a thread
of this interpreter: no Python runs in the request path, the GIL is never taken, and a
crash of the server cannot take the caller down. The binary is ``$KEEL_BIN``, else the
``keel`` installed next to this Python (``pip install .`` puts it in the environment's
``bin/``), else ``keel`` on ``PATH``.

``python -m keeldb.serve PATH [--port N] [...]`` runs one in the foreground (the options of
``keel serve --help``).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from typing import List, Optional

__all__ = ["serve", "Server", "keel_binary"]


def keel_binary() -> str:
    """The path of the ``keel`` executable this package runs."""
    env = os.environ.get("KEEL_BIN")
    if env:
        return env
    here = os.path.join(os.path.dirname(sys.executable), "keel")
    if os.access(here, os.X_OK):
        return here
    found = shutil.which("keel")
    if found:
        return found
    raise FileNotFoundError("the keel executable was not found (set KEEL_BIN, or pip install keel)")


class Server:
    """A running ``keel serve``: ``endpoint_url``, ``port``, ``pid``, ``close()``."""

    def __init__(self, args: List[str]) -> None:
        self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().decode("utf-8", "replace").strip()
        if "listening on " not in line:
            code = self._proc.wait()
            raise RuntimeError(f"keel serve did not start (exit status {code}): {line!r}")
        self.endpoint_url: str = line.split("listening on ", 1)[1]
        self.port: int = int(self.endpoint_url.rsplit(":", 1)[1])
        self.pid: int = self._proc.pid

    def close(self, timeout: float = 30.0) -> int:
        """Stop the server (SIGTERM; in-flight requests finish, the file is synced).
        Returns its exit status. Twice is harmless."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()
        return self._proc.returncode

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<keeldb.serve.Server {self.endpoint_url} pid={self.pid}>"


def serve(path: "str | os.PathLike[str]", port: int = 0, *, host: str = "127.0.0.1",
          threads: Optional[int] = None, sync: str = "none", auth: Optional[str] = None,
          log: Optional[str] = None) -> Server:
    """Serve the database at ``path`` (created if absent) as a DynamoDB endpoint.

    ``port=0`` picks a free port. ``sync`` is ``"none"``, ``"data"`` or ``"full"``;
    ``auth="KEYID:SECRET"`` makes the server verify SigV4 signatures.
    """
    args = [keel_binary(), "serve", os.fspath(path), "--host", host, "--port", str(port),
            "--sync", sync]
    if threads is not None:
        args += ["--threads", str(threads)]
    if auth is not None:
        args += ["--auth", auth]
    if log is not None:
        args += ["--log", log]
    return Server(args)


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m keeldb.serve PATH [options of keel serve]``: run in the foreground."""
    argv = sys.argv[1:] if argv is None else argv
    return subprocess.call([keel_binary(), "serve"] + argv)


if __name__ == "__main__":
    sys.exit(main())
