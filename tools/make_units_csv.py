#!/usr/bin/env python3
"""Generate chiso's sample unit catalogue: thành phố Đà Nẵng, post-1/7/2025 shape.

Rows, in this order:
  1. the root (UBND thành phố Đà Nẵng),
  2. a hand-written list of departments and agencies (DEPARTMENTS below),
  3. every commune-level unit (phường, xã, đặc khu) of Đà Nẵng taken from the
     ``vietnam-provinces`` package, sorted by official commune code.

This is a build-time tool, never imported by the app. It needs the package
pinned below in the active environment:

    pip install vietnam-provinces==2025.10.1
    python tools/make_units_csv.py                 # writes sources/data/units.csv
    python tools/make_units_csv.py --check         # fails if the file is stale
    python tools/make_units_csv.py --codes         # prints code,unit_id,name

See docs/units.md for the format and the id scheme.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import unicodedata
from pathlib import Path

PACKAGE_VERSION = "2025.10.1"
PROVINCE_CODENAME = "da_nang"  # Thành phố Đà Nẵng, province code 48
ROOT_ID = "dng"
ROOT_NAME = "UBND thành phố Đà Nẵng"
HEADER = ("unit_id", "name", "parent_id", "level")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "sources" / "data" / "units.csv"

# Departments (sở) and other agencies handling TTHC under the city after the
# 2025 reorganisation. (unit_id, name). Ids are hand-picked abbreviations of the
# Vietnamese name; they must never start with a commune prefix (dng-p-, dng-x-,
# dng-dk-). docs/units.md says which entries are well attested and which are a
# best effort.
DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("dng-vp", "Văn phòng UBND thành phố"),
    ("dng-snv", "Sở Nội vụ"),
    ("dng-stc", "Sở Tài chính"),
    ("dng-sxd", "Sở Xây dựng"),
    ("dng-snnmt", "Sở Nông nghiệp và Môi trường"),
    ("dng-skhcn", "Sở Khoa học và Công nghệ"),
    ("dng-sct", "Sở Công Thương"),
    ("dng-syt", "Sở Y tế"),
    ("dng-sgddt", "Sở Giáo dục và Đào tạo"),
    ("dng-stp", "Sở Tư pháp"),
    ("dng-svhttdl", "Sở Văn hóa, Thể thao và Du lịch"),
    ("dng-sngv", "Sở Ngoại vụ"),
    ("dng-sdttg", "Sở Dân tộc và Tôn giáo"),
    ("dng-ttr", "Thanh tra thành phố"),
    ("dng-bql-cnc", "Ban Quản lý Khu công nghệ cao và các khu công nghiệp Đà Nẵng"),
    ("dng-bql-cl", "Ban Quản lý Khu kinh tế mở Chu Lai"),
    ("dng-ca", "Công an thành phố"),
)

# Commune id prefix by division type (VietNamDivisionType value).
COMMUNE_PREFIX = {"phường": "p", "xã": "x", "đặc khu": "dk"}
# The type word the package puts in front of each commune name.
TYPE_WORD = {"phường": "Phường", "xã": "Xã", "đặc khu": "Đặc khu"}

ID_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_ID_LEN = 64  # events.md: unit_id is 1–64 chars


def slugify(text: str) -> str:
    """ASCII, lowercase, hyphen-separated: 'Điện Bàn Đông' -> 'dien-ban-dong'."""
    text = text.replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def load_communes() -> tuple[str, list[tuple[int, str, str, str]]]:
    """Return (province name, [(code, division type, name, codename)]) from the package."""
    try:
        import vietnam_provinces as vp
    except ImportError:
        sys.exit(f"needs the package: pip install vietnam-provinces=={PACKAGE_VERSION}")
    if vp.__version__ != PACKAGE_VERSION:
        sys.exit(f"vietnam-provinces {vp.__version__} found, {PACKAGE_VERSION} required "
                 "(the catalogue is pinned to it; bump PACKAGE_VERSION on purpose)")
    provinces = [p for p in vp.Province.iter_all() if p.codename == PROVINCE_CODENAME]
    if len(provinces) != 1:
        sys.exit(f"province {PROVINCE_CODENAME!r} not found exactly once in the package")
    province = provinces[0]
    communes = [
        (int(w.code), w.division_type.value, w.name, w.codename)
        for w in vp.Ward.iter_by_province(province.code)
    ]
    communes.sort()
    return province.name, communes


def commune_rows(communes: list[tuple[int, str, str, str]]) -> list[tuple[int, str, str]]:
    """[(code, unit_id, name)]; ids from names, code appended on a collision."""
    proposed = []
    for code, dtype, name, codename in communes:
        if dtype not in COMMUNE_PREFIX:
            sys.exit(f"commune {code} {name!r}: unknown division type {dtype!r}")
        word = TYPE_WORD[dtype]
        if not name.startswith(word + " "):
            sys.exit(f"commune {code} {name!r}: expected the name to start with {word!r}")
        base = slugify(name[len(word) + 1:])
        if not base:
            sys.exit(f"commune {code} {name!r}: empty slug")
        # Sanity check against the package's own ASCII codename (warn only).
        if codename.replace("_", "-") != slugify(name):
            print(f"note: {code} {name!r}: slug {slugify(name)!r} differs from codename "
                  f"{codename!r}", file=sys.stderr)
        proposed.append((code, f"{ROOT_ID}-{COMMUNE_PREFIX[dtype]}-{base}", name))
    counts: dict[str, int] = {}
    for _, uid, _ in proposed:
        counts[uid] = counts.get(uid, 0) + 1
    return [(code, f"{uid}-{code}" if counts[uid] > 1 else uid, name)
            for code, uid, name in proposed]


def build_rows(communes: list[tuple[int, str, str, str]]) -> tuple[list[tuple[str, ...]], list[tuple[int, str, str]]]:
    rows: list[tuple[str, ...]] = [(ROOT_ID, ROOT_NAME, "", "province")]
    rows += [(uid, name, ROOT_ID, "department") for uid, name in DEPARTMENTS]
    mapping = commune_rows(communes)
    rows += [(uid, name, ROOT_ID, "commune") for _, uid, name in mapping]
    return rows, mapping


def validate(rows: list[tuple[str, ...]]) -> None:
    errors = []
    ids = [r[0] for r in rows]
    seen: set[str] = set()
    for uid in ids:
        if uid in seen:
            errors.append(f"duplicate unit_id {uid!r}")
        seen.add(uid)
    for uid, name, parent, level in rows:
        if not ID_RE.match(uid) or len(uid) > MAX_ID_LEN:
            errors.append(f"bad unit_id {uid!r}")
        if not name.strip() or name != name.strip():
            errors.append(f"{uid}: empty or padded name {name!r}")
        if not level:
            errors.append(f"{uid}: empty level")
        if parent and parent not in seen:
            errors.append(f"{uid}: parent {parent!r} does not exist")
        if parent == uid:
            errors.append(f"{uid}: is its own parent")
        if level == "department" and re.match(rf"^{ROOT_ID}-(p|x|dk)-", uid):
            errors.append(f"{uid}: department id uses a commune prefix")
    roots = [r[0] for r in rows if not r[2]]
    if roots != [ROOT_ID]:
        errors.append(f"expected exactly one root {ROOT_ID!r}, got {roots}")
    if errors:
        sys.exit("invalid catalogue:\n  " + "\n  ".join(errors))


def render(rows: list[tuple[str, ...]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="CSV to write (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 if --out differs")
    ap.add_argument("--codes", action="store_true", help="print code,unit_id,name for each commune")
    args = ap.parse_args(argv)

    province_name, communes = load_communes()
    rows, mapping = build_rows(communes)
    validate(rows)
    text = render(rows)

    if args.codes:
        out = csv.writer(sys.stdout, lineterminator="\n")
        try:
            out.writerow(("code", "unit_id", "name"))
            out.writerows((f"{code:05d}", uid, name) for code, uid, name in mapping)
            sys.stdout.flush()
        except BrokenPipeError:  # e.g. piped into head
            sys.stdout = None  # type: ignore[assignment]  # no flush error at exit
        return 0

    levels: dict[str, int] = {}
    for r in rows:
        levels[r[3]] = levels.get(r[3], 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in levels.items())
    kinds: dict[str, int] = {}
    for _, dtype, _, _ in communes:
        kinds[dtype] = kinds.get(dtype, 0) + 1
    print(f"{province_name}: {len(rows)} rows ({summary}); communes by type: "
          + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())), file=sys.stderr)

    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
        if current != text:
            print(f"{args.out} is stale: rerun tools/make_units_csv.py", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date", file=sys.stderr)
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
