"""A throw-away PostgreSQL server for the tests (Debian's binaries; `.ci/run` installs them)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER, PASSWORD, DB = "layernas", "s3cret-pw", "postgres"  # initdb's own database; no createdb needed


def binaries() -> Path:
    """The folder holding initdb and pg_ctl."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists():
            return Path(folder)
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql (as .ci/run does)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl in a temporary folder; as root, the server runs as the ``postgres`` user."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.dir = Path(tempfile.mkdtemp(prefix="layernas-pg-"))
        self.port = _free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DB}"

    def _run(self, *args: str) -> None:
        out = subprocess.run([*self.as_user, *args], capture_output=True, text=True, cwd=self.dir)
        if out.returncode:
            raise RuntimeError(f"{' '.join(args)} failed: {out.stderr.strip() or out.stdout.strip()}")

    def start(self) -> PostgresServer:
        data, pwfile = self.dir / "data", self.dir / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_user:
            shutil.chown(self.dir, "postgres")
            shutil.chown(pwfile, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", USER, "--auth=md5", f"--pwfile={pwfile}",
                  "--no-sync")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.dir / "log"), "-w",
                  "start")
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
