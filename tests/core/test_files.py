"""The file store: size cap, real-type sniffing, safe names, atomic content-addressed blobs."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from core.files import (
    FileLinks,
    FileMissing,
    FileRefused,
    FileTooLarge,
    LinkRefused,
    LocalFileStore,
    download_headers,
    sanitize_filename,
    sniff,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\n%%EOF\n"


def docx() -> bytes:
    """A minimal Word document container."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


@pytest.fixture
def store(tmp_path: Path) -> LocalFileStore:
    """A store with a small cap."""
    return LocalFileStore(tmp_path / "files", max_bytes=1024)


async def test_put_keeps_bytes_by_sha256_and_finds_the_upload(store: LocalFileStore) -> None:
    """The key is the content's sha256; the upload id gives name, size and sniffed type."""
    stored = await store.put(PNG, "صورة الطلب.png", "image/png")
    assert stored.key == hashlib.sha256(PNG).hexdigest()
    assert (stored.name, stored.size, stored.content_type) == (
        "صورة الطلب.png",
        len(PNG),
        "image/png",
    )
    assert await store.open(stored.key) == PNG
    assert await store.open(f"sha256:{stored.key}") == PNG
    assert await store.get(stored.id) == stored
    again = await store.put(PNG, "copy.png", None)
    assert again.key == stored.key and again.id != stored.id
    leftovers = [p for p in store.root.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


async def test_over_the_cap_is_refused_with_413(store: LocalFileStore) -> None:
    """A file over the size cap is refused and nothing is written."""
    with pytest.raises(FileTooLarge) as err:
        await store.put(PNG + bytes(2000), "big.png", "image/png")
    assert err.value.http_status == 413
    assert not (store.root / "blobs").exists()


@pytest.mark.parametrize(
    ("data", "name", "claimed", "code"),
    [
        (
            b"<!doctype html><script>alert(1)</script>",
            "photo.png",
            "image/png",
            "file_type_not_allowed",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"/>',
            "logo.svg",
            "image/svg+xml",
            "file_type_not_allowed",
        ),
        (PDF, "photo.png", "image/png", "file_type_mismatch"),
        (PNG, "invoice.pdf", None, "file_type_mismatch"),
        (PNG, "invoice", "application/pdf", "file_type_mismatch"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "setup.exe", None, "file_refused"),
    ],
)
async def test_type_must_be_allowed_and_match_the_claim(
    store: LocalFileStore, data: bytes, name: str, claimed: str | None, code: str
) -> None:
    """HTML renamed .png, SVG, a PDF claiming to be an image and executables are refused."""
    with pytest.raises(FileRefused) as err:
        await store.put(data, name, claimed)
    assert err.value.code == code
    assert 400 <= err.value.http_status < 500


@pytest.mark.parametrize(
    ("data", "name", "claimed", "expected"),
    [
        (PDF, "فاتورة.pdf", "application/pdf", "application/pdf"),
        ("مرحبا، هذا ملف نصي\n".encode(), "ملاحظات.txt", "text/plain", "text/plain"),
        (b"a,b\n1,2\n", "orders.csv", "text/csv", "text/csv"),
        (b"a,b\n1,2\n", "orders.csv", "application/vnd.ms-excel", "text/csv"),
        ("سطر\n".encode(), "notes.txt", "text/csv", "text/plain"),
        (docx(), "عقد.docx", "application/octet-stream", None),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "voice.mp3", "audio/mpeg", "audio/mpeg"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "scan.jpg", "image/jpg", "image/jpeg"),
    ],
)
async def test_allowed_types_are_taken(
    store: LocalFileStore, data: bytes, name: str, claimed: str, expected: str | None
) -> None:
    """Images, PDF, text, office documents and audio are kept with their real type."""
    stored = await store.put(data, name, claimed)
    assert stored.content_type == (
        expected or "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\فاتورة مارس.pdf", "فاتورة مارس.pdf"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("a\x00b\x1b[31m.txt", "ab[31m.txt"),
        ("  ..hidden.txt  ", "hidden.txt"),
        ("تقرير\u200f\u200e.pdf", "تقرير.pdf"),
        ('x<y>:"|?*.txt', "x_y______.txt"),
        ("", "file"),
        ("ملف" * 100 + ".pdf", "ملف" * 48 + "مل.pdf"),
    ],
)
def test_names_are_sanitised_and_arabic_kept(given: str, safe: str) -> None:
    """No folders, controls or direction overrides; Arabic letters survive; length capped."""
    assert sanitize_filename(given) == safe


async def test_stored_name_has_no_direction_override(store: LocalFileStore) -> None:
    """An upload named with U+202E is stored under a name without it."""
    stored = await store.put(PDF, "فاتورة\u202efdp.exe.pdf", "application/pdf")
    assert "\u202e" not in stored.name
    assert stored.name == "فاتورةfdp.exe.pdf"


async def test_unknown_keys_and_ids_are_missing(store: LocalFileStore) -> None:
    """Malformed or unknown keys and ids raise FileMissing, never touch other paths."""
    for key in ("../secret", "0" * 64, "sha256:xyz"):
        with pytest.raises(FileMissing):
            await store.open(key)
    for file_id in ("../../etc/passwd", "nope", "A" * 24):
        with pytest.raises(FileMissing):
            await store.get(file_id)


def test_sniff_reads_signatures() -> None:
    """The signature table recognises what it claims to."""
    assert sniff(PNG) == "image/png"
    assert sniff(PDF) == "application/pdf"
    assert sniff(b"GIF89a....") == "image/gif"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(b"  <html><body>hi") == "text/html"
    assert sniff(b"\x00\x01\x02binary") is None


def test_links_bind_key_audience_name_and_expiry() -> None:
    """A signed link works for its audience until it expires; any change breaks it."""
    links = FileLinks("secret", ttl_seconds=60)
    key = "a" * 64
    query = links.query("webchat", key, "demo:visitor1", "ملف.pdf", now=1000)
    assert links.check("webchat", key, query, now=1030) == "demo:visitor1"
    with pytest.raises(LinkRefused) as expired:
        links.check("webchat", key, query, now=1061)
    assert expired.value.code == "link_expired" and expired.value.http_status == 403
    for changed in ({"for": "demo:visitor2"}, {"name": "x.pdf"}, {"exp": "99999"}):
        with pytest.raises(LinkRefused):
            links.check("webchat", key, {**query, **changed}, now=1030)
    with pytest.raises(LinkRefused):
        links.check("webchat", "b" * 64, query, now=1030)
    with pytest.raises(LinkRefused):
        links.check("webhook", key, query, now=1030)
    with pytest.raises(LinkRefused):
        FileLinks("other").check("webchat", key, query, now=1030)


def test_download_headers_never_inline_anything_but_raster_images() -> None:
    """Downloads are attachments with nosniff; only raster images may be inline previews."""
    pdf = download_headers("فاتورة.pdf", "application/pdf", inline=True)
    assert pdf["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%D9%81" in pdf["Content-Disposition"]
    assert pdf["X-Content-Type-Options"] == "nosniff"
    png = download_headers("a.png", "image/png", inline=True)
    assert png["Content-Disposition"].startswith("inline;")
    svg = download_headers("a.svg", "image/svg+xml", inline=True)
    assert svg["Content-Disposition"].startswith("attachment;")


async def test_erase_removes_the_bytes_and_every_upload_naming_them(
    store: LocalFileStore,
) -> None:
    """Erasing a key removes its blob and its upload records; other files stay."""
    first = await store.put(PDF, "passport.pdf", "application/pdf")
    second = await store.put(PDF, "copy.pdf", "application/pdf")
    other = await store.put(PNG, "other.png", "image/png")
    assert await store.erase(f"sha256:{first.key}") == 3
    with pytest.raises(FileMissing):
        await store.open(first.key)
    for gone in (first.id, second.id):
        with pytest.raises(FileMissing):
            await store.get(gone)
    assert await store.open(other.key) == PNG and await store.get(other.id) == other
    assert await store.erase(first.key) == 0
