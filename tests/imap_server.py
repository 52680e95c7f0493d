"""A real IMAP server for tests: Debian's dovecot with a throwaway configuration in a temporary folder, listening
on 127.0.0.1 on a free port, one passwd-file user, maildir under the folder, no system-wide configuration.
Started in the foreground (`dovecot -F -c …`) and stopped by its own process id.

Dovecot will not run its login and mail processes as root: when the tests run as root the master stays root
and hands those to the package's own unprivileged users (dovenull, dovecot) and the mailbox to `nobody`."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient

from app.settings import Imap
from tests.mailbox import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "desk", "desk-secret"
START_TIMEOUT_S = 15

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


def available() -> bool:
    return os.access(DOVECOT, os.X_OK)


def _users() -> dict:
    """Who runs what: the current user, or dovecot's own users when that is root."""
    me = pwd.getpwuid(os.getuid())
    if os.getuid() != 0:
        return {"internal_user": me.pw_name, "internal_group": me.pw_name, "login_user": me.pw_name,
                "uid": me.pw_uid, "gid": me.pw_gid}
    nobody = pwd.getpwnam("nobody")
    return {"internal_user": "dovecot", "internal_group": "dovecot", "login_user": "dovenull",
            "uid": nobody.pw_uid, "gid": nobody.pw_gid}


class ImapServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tsunagu-imap-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def settings(self, **changes) -> Imap:
        return Imap(host="127.0.0.1", port=self.port, tls="none", user=USER, password=PASSWORD, **changes)

    def __enter__(self) -> "ImapServer":
        users = _users()
        self.root.chmod(0o755)  # the mail user (nobody when root) reaches its maildir through it
        for folder in ("run", "state", "mail"):
            (self.root / folder).mkdir()
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{users['uid']}:{users['gid']}::{self.root}/mail\n")
        (self.root / "dovecot.conf").write_text(CONFIG.format(root=self.root, port=self.port, **users))
        if os.getuid() == 0:
            os.chown(self.root / "mail", users["uid"], users["gid"])
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot stopped at start: {self.process.stderr.read().decode()} {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"dovecot did not answer within {START_TIMEOUT_S} s: {self.log()}")

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        """Put a mail in the mailbox as a mail program's server would (APPEND, as it came)."""
        client = self.client()
        try:
            client.append(folder, raw)
        finally:
            client.logout()

    def mails(self, folder: str = "INBOX") -> list[tuple[int, tuple]]:
        """(UID, flags) of every mail still in the folder."""
        client = self.client()
        try:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            flags = client.get_flags(uids) if uids else {}
            return [(uid, flags[uid]) for uid in sorted(uids)]
        finally:
            client.logout()
