"""Cutting a CSV file into blocks of whole lines, read in large pieces.

UTF-8 stays bytes, so that a clean block goes to pyarrow without decoding; other encodings
are decoded as they are read. Undecodable bytes become surrogates (`ESCAPE`) that the
careful path reports on the record that holds them. A block knows its first line number,
and counts and splits its lines as the `csv` module does (LF, CR LF or CR).
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import IO, Any, Final

from training.tables.source import ESCAPE

# Text handed to the parser at a time: large enough to amortise pyarrow's per-call cost.
_BLOCK_CHARS: Final = 4 << 20
_UTF8: Final = frozenset({"utf-8", "utf-8-sig"})


@dataclass
class Block:
    """Whole physical lines, the first of which is line `first_line` of the file.

    Held whole, as the file's UTF-8 bytes or as decoded text: the fast path hands UTF-8 to
    pyarrow in one piece, and only a block that needs the careful path is split into lines
    (no Python object per line otherwise, and no decoding of UTF-8 that pyarrow checks).
    """

    content: str | bytes
    first_line: int
    final: bool

    @cached_property
    def text(self) -> str:
        content = self.content
        # surrogateescape keeps going past undecodable bytes and leaves them recognisable,
        # so the record that holds them can be reported rather than the whole file.
        return content if isinstance(content, str) else content.decode("utf-8", ESCAPE)

    @cached_property
    def utf8(self) -> bytes | None:
        """The block as UTF-8 (not checked, if read as such); None if text cannot be."""
        if isinstance(self.content, bytes):
            return self.content
        try:
            # Strict encoding fails exactly on the surrogates that stand for undecodable
            # bytes (decoding makes no others), so clean text needs no separate scan.
            return self.content.encode("utf-8")
        except UnicodeEncodeError:
            return None

    @cached_property
    def lines(self) -> list[str]:
        # Lines end at LF, CR LF or CR, as reading with newline="" splits them (which
        # str.splitlines would not: it also splits at form feeds, NEL and others).
        return io.StringIO(self.text, newline="").readlines()

    @cached_property
    def line_count(self) -> int:
        # Counted without splitting: each LF, and each CR that does not start a CR LF.
        content = self.content
        lf, cr = _line_ends(content)
        if cr not in content:
            return content.count(lf)
        return content.count(lf) + content.count(cr) - content.count(cr + lf)

    def followed_by(self, fresh: Block) -> Block:
        """This block's lines and then `fresh`'s, as one block."""
        if isinstance(self.content, bytes) and isinstance(fresh.content, bytes):
            return Block(self.content + fresh.content, self.first_line, fresh.final)
        return Block(self.text + fresh.text, self.first_line, fresh.final)


def _line_ends(content: str | bytes) -> tuple[Any, Any]:
    """LF and CR in the type of `content` (text or bytes)."""
    return ("\n", "\r") if isinstance(content, str) else (b"\n", b"\r")


class Reads:
    """A binary stream in large reads: UTF-8 as its bytes, other encodings decoded.

    UTF-8 stays bytes (LF and CR never occur inside a multi-byte character, so lines cut
    cleanly, and pyarrow checks the encoding); other text is decoded with one incremental
    decode per read, where `TextIOWrapper` decodes in 8 kB steps.
    """

    def __init__(self, binary: IO[bytes], encoding: str) -> None:
        self._binary = binary
        self._bom = b"\xef\xbb\xbf" if encoding == "utf-8-sig" else b""
        self._decoder = (
            None if encoding in _UTF8 else codecs.getincrementaldecoder(encoding)(ESCAPE)
        )

    def read(self, size: int) -> str | bytes:
        """About `size` bytes' worth; empty only at the end."""
        while True:
            raw = self._binary.read(size)
            if self._bom:
                raw = raw.removeprefix(self._bom) if raw.startswith(self._bom) else raw
                self._bom = b""
            if self._decoder is None:
                return raw
            text = self._decoder.decode(raw, final=not raw)
            if text or not raw:
                return text


def line_blocks(reads: Reads) -> Iterator[Block]:
    first_line = 1
    current = _next_lines(reads, None)
    while current is not None:
        lines, rest = current
        current = _next_lines(reads, rest)
        final = current is None
        lf, cr = _line_ends(lines)
        if final and not lines.endswith((lf, cr)):
            # A line cut short by the end of the file must still end the record, and a
            # quote left open by it must still show as an open quote.
            lines += lf
        block = Block(lines, first_line, final)
        yield block
        first_line += block.line_count


def _next_lines(reads: Reads, rest: Any) -> tuple[Any, Any] | None:
    """(whole lines, the start of the next line) read after `rest`, as text or bytes
    like the reads; None at the end."""
    while True:
        chunk = reads.read(_BLOCK_CHARS)
        data = chunk if not rest else rest + chunk
        if not chunk:
            return (data, data[:0]) if data else None
        # After the last line end; a CR at the very end may be half of a CR LF.
        lf, cr = _line_ends(data)
        cut = max(data.rfind(lf), data.rfind(cr, 0, len(data) - 1)) + 1
        if cut:
            return data[:cut], data[cut:]
        rest = data  # one line longer than a block: read on
