"""A mail body as the customer wrote it: HTML to text, quoted mail and signatures cut."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK = {
    "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "hr", "section", "article", "header", "footer",
}  # fmt: skip
_SKIP = {"script", "style", "head", "title", "template", "noscript"}


class _TextExtractor(HTMLParser):
    """Collects visible text; quoted blocks get a ``> `` prefix so quote stripping sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Track skipped and quoted regions and break lines at blocks."""
        if tag in _SKIP:
            self.skip += 1
        if tag == "blockquote":
            self.quote += 1
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """A self-closing ``<br/>`` still breaks the line."""
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        """Leave skipped and quoted regions."""
        if tag in _SKIP and self.skip:
            self.skip -= 1
        if tag == "blockquote" and self.quote:
            self.quote -= 1
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        """Keep visible text, marking quoted lines."""
        if self.skip:
            return
        if self.quote:
            data = "\n".join("> " + line if line.strip() else line for line in data.split("\n"))
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML body, one paragraph per line."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        return normalise(re.sub(r"<[^>]+>", " ", html))
    return normalise("".join(parser.parts))


def normalise(text: str) -> str:
    """Unify newlines, trim trailing spaces and collapse runs of blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if not line.strip() and out and not out[-1].strip():
            continue
        out.append(line)
    return "\n".join(out).strip()


# Reply headers mail clients put above the quoted message, in the languages our customers use.
# Bidi marks (RLM/LRM) sneak into Arabic Gmail headers, hence the [\u200e\u200f] allowances.
# Each needs what real headers carry and sentences rarely do: a date (a digit; \d covers
# Arabic-Indic ones) or the quoted sender's address. "هذا ما كتب:" or "On the phone he wrote:"
# in the customer's own text must not cut it.
_AR_WROTE = r"[\u200e\u200f]?\s*كتب[تا]?[\u200e\u200f]?\s*:\s*$"
_REPLY_HEADERS = [
    re.compile(r"^\s*On\b.{0,300}\d.{0,300}\bwrote:\s*$", re.I | re.S),
    re.compile(r"^\s*[\u200e\u200f]?في\s.{0,300}\d.{0,300}@.{0,200}" + _AR_WROTE, re.S),
    # Any client: "… <address> كتب:", the address right before the verb.
    re.compile(r"^\s*.{0,300}[^\s<>@]+@[^\s<>@]+>?" + _AR_WROTE, re.S),
    re.compile(r"^\s*Le\s.{0,300}\d.{0,300}a écrit\s*:\s*$", re.I | re.S),
    re.compile(r"^\s*Am\s.{0,300}\d.{0,300}schrieb.{0,100}:\s*$", re.I | re.S),
    re.compile(
        r"^\s*-{2,}\s*(Original Message|Forwarded message|الرسالة الأصلية)\s*-{2,}\s*$", re.I
    ),
    re.compile(r"^\s*_{10,}\s*$"),
]
_OUTLOOK_FROM = re.compile(r"^\s*\*?(From|من|De|Von)\s*:\*?\s", re.I)
_OUTLOOK_NEXT = re.compile(
    r"^\s*\*?(Sent|Date|To|Subject|تاريخ الإرسال|التاريخ|إلى|الموضوع|Envoyé|Gesendet)\s*:", re.I
)
_SIGN_OFF = re.compile(
    r"^\s*(Sent from my \w+|Sent from (Outlook|Mail|Yahoo Mail)|Get Outlook for \w+"
    r"|أُ?رسلت من .{0,40}|مرسل من .{0,40}|تم الإرسال من .{0,40})\s*$",
    re.I,
)


def _reply_header_at(lines: list[str], i: int) -> bool:
    """Whether a quoted-message header starts at line ``i`` (it may wrap onto a second line)."""
    line = lines[i]
    # A header wrapped onto two lines starts with its opening word.
    opens = line.lstrip().lower().startswith(("on ", "في", "le ", "am "))
    joined = line + " " + lines[i + 1] if opens and i + 1 < len(lines) and len(line) < 200 else ""
    for pattern in _REPLY_HEADERS:
        if pattern.match(line) or (joined and pattern.match(joined)):
            return True
    if _OUTLOOK_FROM.match(line):
        window = lines[i + 1 : i + 5]
        return sum(bool(_OUTLOOK_NEXT.match(n)) for n in window) >= 2
    return False


def _nothing_of_theirs_after(lines: list[str], i: int) -> bool:
    """Whether only blank lines, quoted lines or a quoted message follow line ``i``.

    "Sent from my iPhone" ends what the customer wrote only when it is at its end: followed by
    the earlier mail, not by more of their own words.
    """
    for j in range(i + 1, len(lines)):
        line = lines[j]
        if not line.strip() or line.lstrip().startswith(">"):
            continue
        return _reply_header_at(lines, j)
    return True


def strip_reply(text: str) -> str:
    """What the customer wrote: cut quoted earlier mail, the reply header and the signature.

    Returns the text unchanged when cutting would leave nothing.
    """
    lines = normalise(text).split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _reply_header_at(lines, i):
            break
        if line.strip() in ("--", "-- ", "—"):
            break
        if _SIGN_OFF.match(line) and _nothing_of_theirs_after(lines, i):
            break
        kept.append(line)
    # Interleaved or bottom-posted quoting: drop the quoted lines, keep the customer's own.
    own = [line for line in kept if not line.lstrip().startswith(">")]
    result = normalise("\n".join(own))
    return result or normalise(text)
