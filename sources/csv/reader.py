"""Reading an export file: encoding, delimiter, rows; the whole conversion with its summary."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from sources.csv.convert import Converter, RowError, RowRejected, RowResult
from sources.csv.mapping import DELIMITERS, CsvImportError, Mapping

# -- files ------------------------------------------------------------------------

def decode_export(data: bytes, encoding: str = "utf-8") -> str:
    """The file's text, NFC-normalised. UTF-8 with or without BOM, UTF-16 with BOM
    (Excel's "Unicode text"), or the named encoding (e.g. cp1258)."""
    enc = encoding.lower().replace("_", "-")
    if enc in ("utf-8", "utf8") and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        enc = "utf-16"
    elif enc in ("utf-8", "utf8"):
        enc = "utf-8-sig"
    try:
        text = data.decode(enc)
    except LookupError:
        raise CsvImportError(f"unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CsvImportError(
            f"line {line}: not {encoding} (byte {data[exc.start:exc.start + 1]!r} at offset {exc.start}); "
            "try --encoding cp1258 (Windows Vietnamese) or save the file as \"CSV UTF-8\"") from None
    return unicodedata.normalize("NFC", text.lstrip("\ufeff"))


def sniff_delimiter(text: str) -> str:
    """The most frequent of , ; TAB | on the header line (',' if none)."""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_rows(text: str, delimiter: str | None = None) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """(header, rows as (start line, cells)). Blank rows are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter or sniff_delimiter(text))
    header: list[str] | None = None
    try:
        for header in reader:
            if any(c.strip() for c in header):
                break
    except csv.Error as exc:
        raise CsvImportError(f"line {reader.line_num}: {exc}") from None
    if not header or not any(c.strip() for c in header):
        raise CsvImportError("the file has no header row")
    header = [h.lstrip("\ufeff").strip() for h in header]

    def rows() -> Iterator[tuple[int, list[str]]]:
        last = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield last + 1, [f"\0{exc}"]
                return
            start, last = last + 1, reader.line_num
            if any(c.strip() for c in cells):
                yield start, cells

    return header, rows()


@dataclass
class Conversion:
    """Everything an import produced, in file order."""

    columns: dict[str, str]
    rows: int = 0
    events: list[dict] = field(default_factory=list)
    imported: list[RowResult] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def warnings(self) -> list[RowError]:
        return [RowError(r.line, w, r.dossier_id) for r in self.imported for w in r.warnings]


def iter_export(text: str, mapping: Mapping, *, delimiter: str | None = None,
                unit_prefix: str | None = None) -> tuple[Converter, Iterator[RowResult | RowError]]:
    """Convert lazily: (the bound converter, one RowResult or RowError per data row).
    A dossier code seen on an earlier row makes a RowError (one row per dossier)."""
    header, rows = read_rows(text, delimiter)
    converter = Converter(mapping, header, unit_prefix)
    width = len(header)

    def results() -> Iterator[RowResult | RowError]:
        seen: dict[str, int] = {}
        for line, cells in rows:
            if len(cells) == 1 and cells[0].startswith("\0"):
                yield RowError(line, f"the CSV cannot be read from here on: {cells[0][1:]}")
                return
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                yield RowError(line, f"{len(cells)} cells but the header has {width} "
                                     "(an unquoted delimiter in a cell?)")
                continue
            try:
                result = converter.convert(line, cells)
            except RowRejected as rejected:
                yield rejected.error
                continue
            if result.dossier_id in seen:
                yield RowError(line, f"dossier {result.dossier_id} is already on line {seen[result.dossier_id]}",
                               result.dossier_id)
                continue
            seen[result.dossier_id] = line
            yield result

    return converter, results()


def convert_export(text: str, mapping: Mapping, *, delimiter: str | None = None,
                   unit_prefix: str | None = None) -> Conversion:
    converter, results = iter_export(text, mapping, delimiter=delimiter, unit_prefix=unit_prefix)
    out = Conversion(columns=dict(converter.columns))
    for r in results:
        add_result(out, r, keep_events=True)
    return out


def add_result(out: Conversion, r: RowResult | RowError, keep_events: bool = True) -> None:
    out.rows += 1
    if isinstance(r, RowError):
        out.errors.append(r)
    else:
        out.imported.append(r)
        if keep_events:
            out.events.extend(r.events)
