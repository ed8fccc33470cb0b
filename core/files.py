"""The file store: agents' uploads by content hash, checked for size and real type; signed links."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import mimetypes
import os
import re
import secrets
import time
import unicodedata
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlencode

from core.errors import DomainError
from core.types import Attachment

# What agents may send. SVG, HTML and anything executable are deliberately absent.
ALLOWED_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "audio/mp4",
        "audio/flac",
    }
)
# Only these are ever shown inline (previews); every other type is a download.
RASTER_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

# Other names browsers and `mimetypes` use for the same types.
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "audio/x-flac": "audio/flac",
    "application/x-pdf": "application/pdf",
}
_OLE = frozenset(
    {"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"}
)
_ZIP_OFFICE = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_TEXT = frozenset({"text/plain", "text/csv"})
# Types a claim may be vague about: they say nothing we could contradict.
_VAGUE = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_MARKUP = re.compile(rb"<\s*(!doctype|html|head|body|script|svg|iframe|\?xml|object|embed)", re.I)
_UNSAFE_NAME = re.compile(r'[<>:"|?*\\/]')
_KEY = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_NAME_CHARS = 150


class FileRefused(DomainError):
    """A file the store will not take: too large, a type we don't send, or not what it claims."""

    code = "file_refused"
    http_status = 415


class FileTooLarge(FileRefused):
    """Over the size cap."""

    code = "file_too_large"
    http_status = 413


class FileMissing(DomainError):
    """No stored file under that key or id."""

    code = "file_not_found"
    http_status = 404


def canonical_type(content_type: str | None) -> str:
    """A content type without parameters, lower-cased, aliases folded."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def _zip_type(data: bytes) -> str | None:
    """The office format inside a ZIP container, judged by its member names."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                declared = archive.read("mimetype").decode("ascii", "replace").strip()
                return declared if declared in ALLOWED_TYPES else None
    except (zipfile.BadZipFile, OSError, ValueError, KeyError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for prefix, kind in _ZIP_OFFICE.items():
        if any(n.startswith(prefix) for n in names):
            return kind
    return None


def _looks_like_text(data: bytes) -> bool:
    """UTF-8 (or UTF-16 with a BOM) text without control bytes and without markup."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return False
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return False
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in text):
        return False
    return not _MARKUP.search(text[:4096].encode())


def sniff(data: bytes) -> str | None:
    """The real type of the bytes from their first bytes (a signature table), or None."""
    head = data[:64]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/x-ole-storage"  # doc/xls/ppt: the claim says which
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(data) or "application/zip"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head[4:8] == b"ftyp" and head[8:11] in (b"M4A", b"M4B", b"mp4", b"iso"):
        return "audio/mp4"
    if _MARKUP.search(data[:4096].lstrip()[:512]):
        return "text/html"
    if _looks_like_text(data[:65536]):
        return "text/plain"
    return None


def check_type(data: bytes, filename: str, claimed: str | None) -> str:
    """The real type of allowed bytes that match their name and claim; else `FileRefused`."""
    real = sniff(data)
    from_name = canonical_type(mimetypes.guess_type(filename, strict=False)[0])
    said = canonical_type(claimed)
    claims = [c for c in (said, from_name) if c not in _VAGUE]
    if real is None:
        raise FileRefused("the file's content is not a type we can send")
    if real == "application/x-ole-storage":
        office = [c for c in claims if c in _OLE]
        if not office:
            raise FileRefused("an old Office file needs a .doc, .xls or .ppt name or type")
        real = office[0]
    if real == "text/plain":
        texts = [c for c in (from_name, said) if c in _TEXT]  # the extension decides
        real = texts[0] if texts else real
    if real not in ALLOWED_TYPES:
        raise FileRefused(f"files of type {real} cannot be sent", code="file_type_not_allowed")
    for claim in claims:
        if not _compatible(claim, real, from_name):
            raise FileRefused(
                f"the file says it is {claim} but its content is {real}", code="file_type_mismatch"
            )
    return real


def _compatible(claim: str, real: str, from_name: str) -> bool:
    """Whether a claimed type agrees with the real one."""
    # Text types agree among themselves; Windows browsers call a .csv file an Excel sheet.
    if claim == real or (claim in _TEXT and real in _TEXT):
        return True
    return real in _TEXT and claim == "application/vnd.ms-excel" and from_name == "text/csv"


def sanitize_filename(name: str | None, content_type: str = "") -> str:
    """A file name without folders, control or direction-override characters; Arabic kept."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    # Cc: control characters; Cf: invisible formatting, incl. U+202E that flips "gpj.exe".
    name = "".join(
        " " if unicodedata.category(c) in ("Zl", "Zp") or c in "\t\n\r" else c
        for c in name
        if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn") or c in "\t\n\r"
    )
    name = _UNSAFE_NAME.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = ext[:16]
    room = MAX_NAME_CHARS - (len(ext) + 1 if ext else 0)
    stem = stem[:room].rstrip(" .")
    if not stem:
        stem = "file"
        if not ext:
            ext = (mimetypes.guess_extension(content_type) or "").lstrip(".")
    return f"{stem}.{ext}" if ext else stem


def kind_for(content_type: str) -> str:
    """The timeline's attachment kind for a content type."""
    if content_type in RASTER_IMAGES:
        return "image"
    if content_type.startswith("audio/"):
        return "audio"
    return "document"


def parse_key(key: str) -> str:
    """The hex digest of ``<hex>`` or ``sha256:<hex>``; `FileMissing` if it is neither."""
    match = _KEY.match(key or "")
    if match is None:
        raise FileMissing("no such file")
    return match.group(1)


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One upload: its id, the content key of its bytes, and what it is.

    Args:
        id: the upload's id, given to the reply endpoint.
        key: the sha256 hex digest of the bytes; the download key.
        name: the sanitised file name.
        size: bytes.
        content_type: the sniffed, allowed type.
    """

    id: str
    key: str
    name: str
    size: int
    content_type: str

    def attachment(self) -> Attachment:
        """The message metadata for this file."""
        return Attachment(
            kind_for(self.content_type), self.name, self.content_type, self.size, key=self.key
        )

    def to_dict(self) -> dict[str, object]:
        """The upload API's answer."""
        return asdict(self)


class FileStore(Protocol):
    """Where agents' files live: put once, read by key, uploads found by id."""

    max_bytes: int

    async def put(self, data: bytes, filename: str | None, content_type: str | None) -> StoredFile:
        """Check and keep a file; `FileRefused` with the reason when it is not acceptable."""
        ...

    async def get(self, file_id: str) -> StoredFile:
        """An upload by its id; `FileMissing` if unknown."""
        ...

    async def open(self, key: str) -> bytes:
        """The bytes under a content key; `FileMissing` if unknown."""
        ...

    async def erase(self, key: str) -> int:
        """Remove the bytes under a content key and every upload record naming them."""
        ...


class LocalFileStore:
    """Files on local disk: ``blobs/<aa>/<sha256>`` written atomically, ``uploads/<id>.json``."""

    def __init__(self, root: Path | str, max_bytes: int = 10 * 1024 * 1024) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def _blob(self, digest: str) -> Path:
        return self.root / "blobs" / digest[:2] / digest

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        """Temp file then rename: a crash never leaves half a file under the final name."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)

    def put_sync(self, data: bytes, filename: str | None, content_type: str | None) -> StoredFile:
        """`put` without the thread hop (blocking)."""
        if len(data) > self.max_bytes:
            raise FileTooLarge(
                f"the file is {len(data)} bytes; the limit is {self.max_bytes} bytes",
            )
        if not data:
            raise FileRefused("the file is empty", code="file_empty")
        real = check_type(data, filename or "", content_type)
        name = sanitize_filename(filename, real)
        digest = hashlib.sha256(data).hexdigest()
        blob = self._blob(digest)
        if not blob.exists():
            self._write(blob, data)
        stored = StoredFile(secrets.token_urlsafe(18), digest, name, len(data), real)
        meta = json.dumps(stored.to_dict(), ensure_ascii=False).encode()
        self._write(self.root / "uploads" / f"{stored.id}.json", meta)
        return stored

    async def put(self, data: bytes, filename: str | None, content_type: str | None) -> StoredFile:
        """Check and keep a file (disk work in a thread)."""
        return await asyncio.to_thread(self.put_sync, data, filename, content_type)

    def get_sync(self, file_id: str) -> StoredFile:
        """`get` without the thread hop (blocking)."""
        if not _UPLOAD_ID.match(file_id or ""):
            raise FileMissing(f"no upload {file_id!r}")
        try:
            raw = json.loads((self.root / "uploads" / f"{file_id}.json").read_bytes())
        except (OSError, ValueError) as exc:
            raise FileMissing(f"no upload {file_id!r}") from exc
        return StoredFile(**raw)

    async def get(self, file_id: str) -> StoredFile:
        """An upload by its id."""
        return await asyncio.to_thread(self.get_sync, file_id)

    def open_sync(self, key: str) -> bytes:
        """`open` without the thread hop (blocking)."""
        try:
            return self._blob(parse_key(key)).read_bytes()
        except OSError as exc:
            raise FileMissing("no such file") from exc

    async def open(self, key: str) -> bytes:
        """The bytes under a content key."""
        return await asyncio.to_thread(self.open_sync, key)

    def erase_sync(self, key: str) -> int:
        """`erase` without the thread hop (blocking): how many files were removed."""
        digest = parse_key(key)
        removed = 0
        blob = self._blob(digest)
        if blob.exists():
            blob.unlink()
            removed += 1
        # Upload records carry the file's name; they are found by key, one small file each.
        for record in (self.root / "uploads").glob("*.json"):
            try:
                named = json.loads(record.read_bytes()).get("key")
            except (OSError, ValueError, AttributeError):
                continue
            if named == digest:
                record.unlink(missing_ok=True)
                removed += 1
        return removed

    async def erase(self, key: str) -> int:
        """Remove a file's bytes and its upload records (customer erasure); disk in a thread."""
        return await asyncio.to_thread(self.erase_sync, key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class FileLinks:
    """Signed, expiring download links for people without an inbox login (visitors, webhooks).

    A link names the content key, who it is for (``audience``), the file name and when it
    expires; the signature covers all of them, so none can be changed or reused for another.
    """

    secret: str
    ttl_seconds: int = 3600
    base_url: str = ""  # the service's public URL, for links that leave the service

    def _sign(self, scope: str, key: str, audience: str, name: str, expires: int) -> str:
        material = "\n".join((scope, key, audience, name, str(expires))).encode()
        secret = hashlib.sha256(b"tawasul-file-link|" + self.secret.encode()).digest()
        return _b64(hmac.new(secret, material, hashlib.sha256).digest()[:20])

    def query(
        self, scope: str, key: str, audience: str, name: str, now: float | None = None
    ) -> dict[str, str]:
        """The query string of a link to ``key`` for ``audience`` in ``scope``."""
        expires = int((time.time() if now is None else now) + self.ttl_seconds)
        digest = parse_key(key)
        return {
            "for": audience,
            "name": name,
            "exp": str(expires),
            "sig": self._sign(scope, digest, audience, name, expires),
        }

    def url(self, path: str, scope: str, key: str, audience: str, name: str) -> str:
        """A full link: ``<base_url><path>/<key>?<signed query>``."""
        query = urlencode(self.query(scope, key, audience, name))
        return f"{self.base_url.rstrip('/')}{path}/{parse_key(key)}?{query}"

    def check(self, scope: str, key: str, query: dict[str, str], now: float | None = None) -> str:
        """The audience a link was made for; `FileRefused` (403) when forged or expired."""
        try:
            digest = parse_key(key)
            audience, name, expires = query["for"], query["name"], int(query["exp"])
            signature = query["sig"]
        except (KeyError, ValueError, FileMissing) as exc:
            raise LinkRefused("not a valid file link") from exc
        expected = self._sign(scope, digest, audience, name, expires)
        if not hmac.compare_digest(expected, signature):
            raise LinkRefused("not a valid file link")
        if expires < (time.time() if now is None else now):
            raise LinkRefused("this file link has expired", code="link_expired")
        return audience


class LinkRefused(DomainError):
    """A download link that is forged, altered or expired."""

    code = "bad_link"
    http_status = 403


def served_type(data: bytes, name: str) -> str:
    """The type to serve stored bytes as: the checked type, else a plain download."""
    try:
        return check_type(data, name, None)
    except FileRefused:
        return "application/octet-stream"


def download_headers(name: str, content_type: str, *, inline: bool = False) -> dict[str, str]:
    """Browser headers: a download (inline only for raster images), never sniffed or scripted."""
    name = sanitize_filename(name, content_type)
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = "inline" if inline and content_type in RASTER_IMAGES else "attachment"
    return {
        "Content-Type": content_type,
        "Content-Disposition": (
            f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=300",
        "Referrer-Policy": "no-referrer",
    }
