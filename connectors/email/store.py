"""Files on disk for the email channel: attachments, rejected raw mail, IMAP read markers."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path


class MailStore:
    """Blobs: ``root/blobs``; rejected mail: ``root/rejected``; IMAP markers: ``root/imap``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _write(self, path: Path, data: bytes) -> None:
        """Write atomically so a crash never leaves half a file under the final name."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)

    def put(self, data: bytes) -> str:
        """Store bytes once and return ``sha256:<hex>``."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.path(f"sha256:{digest}")
        if not path.exists():
            self._write(path, data)
        return f"sha256:{digest}"

    def path(self, key: str) -> Path:
        """Where the blob with this key lives."""
        digest = key.removeprefix("sha256:")
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a blob key: {key!r}")
        return self.root / "blobs" / digest[:2] / digest

    def get(self, key: str) -> bytes:
        """The bytes stored under a key."""
        return self.path(key).read_bytes()

    def delete(self, key: str) -> int:
        """Remove the blob under a key (customer erasure); 1 if it was there, else 0."""
        path = self.path(key)
        if not path.exists():
            return 0
        path.unlink()
        return 1

    def reject(self, raw: bytes, reason: str) -> Path:
        """Keep a mail we could not use, with the reason beside it, so nothing is lost."""
        digest = hashlib.sha256(raw).hexdigest()
        path = self.root / "rejected" / f"{int(time.time())}-{digest[:16]}.eml"
        self._write(path, raw)
        self._write(path.with_suffix(".reason.txt"), reason.encode())
        return path

    def rejected(self) -> list[tuple[Path, str]]:
        """Every rejected mail with its reason, oldest first."""
        folder = self.root / "rejected"
        if not folder.is_dir():
            return []
        return [
            (p, p.with_suffix(".reason.txt").read_text())
            for p in sorted(folder.glob("*.eml"))
            if p.with_suffix(".reason.txt").exists()
        ]

    def _cursor_path(self, mailbox: str) -> Path:
        """Where one mailbox's marker lives (the name hashes the label: no odd characters)."""
        return self.root / "imap" / f"{hashlib.sha256(mailbox.encode()).hexdigest()[:24]}.json"

    def imap_cursor(self, mailbox: str) -> tuple[int, int] | None:
        """``(UIDVALIDITY, highest UID done)`` recorded for a mailbox, if any."""
        try:
            data = json.loads(self._cursor_path(mailbox).read_text())
            return int(data["uidvalidity"]), int(data["uid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save_imap_cursor(self, mailbox: str, uidvalidity: int, uid: int) -> None:
        """Record how far a mailbox has been read (atomically: a crash keeps the old marker)."""
        data = {"mailbox": mailbox, "uidvalidity": uidvalidity, "uid": uid}
        self._write(self._cursor_path(mailbox), json.dumps(data).encode())
