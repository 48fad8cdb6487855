"""Benchmark inputs recreated on any Linux machine with Python, no network.

``python bench/corpus.py OUTDIR`` writes a set to OUTDIR with a MANIFEST.json
(name, size, SHA-256 and origin of every file); ``statesmix bench --corpus``
(``--shapes``, ``--small``, or ``--set NAME``) builds the files it needs
itself. Three sets:

mixed   the mixed corpus (issue 10): 15 files, about 15 MB: Python and C
        sources, an ELF shared library, a SQLite database, JSON, XML, web and
        system logs, English, Polish, Russian and Chinese text, CSV, a WAV
        sound and a BMP image.
shapes  inputs of every shape (issue 15): runs of one byte, random ACGT,
        random letters without spaces, long base64 lines, one line repeated,
        logs with long rulers, 2 MB of zeros then 2 MB of enwik8 (with both
        halves alone), random bytes, and 1 MB of enwik8 as the yardstick.
small   text of 0..65,536 bytes (issue 13): every power of two and a few sizes
        between, from the enwik8 prefix and from Python source code.

What is generated (logs, the database's rows, CSV, sound, image, letters) comes
from seeded generators: the same bytes on every machine. What is taken from
the machine (the standard library's sources and documentation, the Unicode
database, the interpreter's shared library, C headers, translation catalogs)
is the same on machines with the same Python and packages; MANIFEST.json
records each file's origin and SHA-256, so two runs can be checked to have
measured the same bytes. Files that need something this machine lacks (the
enwik8 prefix, C headers, translation catalogs) are skipped with a note.

This module is benchmark tooling: ``import statesmix`` does not load it.
"""

from __future__ import annotations

import argparse
import ast
import base64
import glob
import hashlib
import io
import json
import math
import os
import random
import sqlite3
import struct
import sys
import sysconfig
import tempfile
import wave
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence

SETS = ("mixed", "shapes", "small")
MANIFEST = "MANIFEST.json"
ENWIK8_NAME = "enwik8_prefix_4154399"


class Unavailable(Exception):
    """This machine lacks what a file is made from; the file is skipped."""


@dataclass
class Entry:
    name: str
    set: str
    origin: str  # where the bytes come from, for the manifest and the README
    build: Callable[["Sources"], bytes]


class Sources:
    """What the builders read from this machine, looked up once."""

    def __init__(self, enwik8: Optional[str] = None) -> None:
        self.enwik8_path = enwik8
        self._cache: Dict[str, bytes] = {}

    def enwik8(self, n: int) -> bytes:
        path = self.enwik8_path or find_enwik8()
        if self.enwik8_path and not os.path.isfile(path):
            raise Unavailable(f"{path} is not a file")
        if not path:
            raise Unavailable(f"the enwik8 prefix ({ENWIK8_NAME}) was not found; pass --data")
        with open(path, "rb") as f:
            blob = f.read(n)
        if len(blob) < n:
            raise Unavailable(f"{path} has fewer than {n:,} bytes")
        return blob

    def stdlib_files(self) -> List[str]:
        """The standard library's top-level modules, sorted by name."""
        stdlib = sysconfig.get_paths()["stdlib"]
        return sorted(glob.glob(os.path.join(stdlib, "*.py")), key=os.path.basename)

    def cached(self, key: str, make: Callable[[], bytes]) -> bytes:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


def find_enwik8(name: str = ENWIK8_NAME) -> Optional[str]:
    """The enwik8 prefix at ../shared/data/ (from the working directory or the
    source tree) or in the working directory, or None."""
    here = os.path.dirname(os.path.abspath(__file__))
    for c in (os.path.join(os.getcwd(), "..", "shared", "data", name),
              os.path.join(here, "..", "..", "shared", "data", name),
              os.path.join(os.getcwd(), name)):
        if os.path.isfile(c):
            return os.path.abspath(c)
    return None


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _cut_at_line(blob: bytes, size: int) -> bytes:
    """At most size bytes, ending after a newline when there is one in the last 4 KB."""
    if len(blob) <= size:
        return blob
    nl = blob.rfind(b"\n", size - 4096, size)
    return blob[: nl + 1] if nl >= 0 else blob[:size]


def _concat(paths: Iterable[str], size: int, root: str, comment: str) -> bytes:
    """Files one after another, each under a one-line marker, up to size bytes."""
    out, n = [], 0
    for p in paths:
        head = f"{comment} ==== {os.path.relpath(p, root)} ====\n".encode()
        body = _read(p)
        out += [head, body if body.endswith(b"\n") else body + b"\n"]
        n += len(head) + len(out[-1])
        if n >= size:
            break
    if n < size // 2:
        raise Unavailable(f"only {n:,} bytes of sources found under {root}")
    return _cut_at_line(b"".join(out), size)


# -- the mixed corpus -------------------------------------------------------

def python_source(src: Sources) -> bytes:
    files = src.stdlib_files()
    return _concat(files, 1_500_000, os.path.dirname(files[0]), "#")


def c_source(src: Sources) -> bytes:
    """C headers: Python's own when installed, else the system's."""
    roots = [sysconfig.get_paths()["include"], "/usr/include", "/usr/local/include"]
    for root in roots:
        if not os.path.isdir(root):
            continue
        files = sorted(glob.glob(os.path.join(root, "**", "*.[ch]"), recursive=True))
        try:
            return _concat(files, 1_000_000, root, "//")
        except Unavailable:
            continue
    raise Unavailable("no C headers found (Python's include directory, /usr/include)")


def elf_binary(src: Sources) -> bytes:
    """The interpreter's machine code: libpython when Python is built shared, else the executable."""
    candidates = []
    libdir, ldlib = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LDLIBRARY")
    if libdir and ldlib and ldlib.endswith(".so"):
        candidates.append(os.path.join(libdir, ldlib))
    candidates.append(os.path.realpath(sys.executable))
    for c in candidates:
        if os.path.isfile(c):
            blob = _read(c)
            if blob[:4] == b"\x7fELF" and len(blob) >= 500_000:
                return blob[:2_000_000]
    raise Unavailable("no ELF interpreter or libpython of at least 500 KB found")


_FIRST = ["Anna", "Piotr", "Maria", "John", "Wei", "Olga", "Ahmed", "Lucia", "Kenji", "Fatima",
          "Jan", "Ewa", "Ivan", "Sara", "Tomasz", "Mei", "Carlos", "Ingrid", "Ravi", "Zofia"]
_LAST = ["Nowak", "Smith", "Kowalski", "Garcia", "Chen", "Ivanova", "Müller", "Rossi", "Tanaka",
         "Haddad", "Wiśniewska", "Brown", "Petrov", "Silva", "Kim", "Dubois", "Jensen", "Patel"]
_CITIES = ["Warszawa", "Kraków", "Berlin", "London", "Paris", "Tokyo", "São Paulo", "Toronto",
           "Lagos", "Mumbai", "Sydney", "Zürich", "Gdańsk", "Łódź", "Madrid", "Chicago"]
_PRODUCTS = ["widget", "gadget", "sprocket", "flange", "gizmo", "bracket", "valve", "gear",
             "bearing", "spring", "bolt", "washer", "pulley", "hinge", "lever", "socket"]


def sqlite_database(src: Sources) -> bytes:
    """A shop's database with seeded rows: customers, products, orders, an index each."""
    rng = random.Random(101)
    with tempfile.TemporaryDirectory(prefix="smx-corpus-") as tmp:
        path = os.path.join(tmp, "shop.db")
        db = sqlite3.connect(path)
        db.execute("PRAGMA page_size = 4096")
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT, city TEXT, "
                   "joined TEXT, balance REAL)")
        db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price_cents INTEGER, "
                   "stock INTEGER, description TEXT)")
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, product_id INTEGER, "
                   "quantity INTEGER, placed TEXT, status TEXT)")
        customers = []
        for i in range(1, 6001):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            customers.append((i, f"{first} {last}", f"{first.lower()}.{last.lower()}{i}@example.org",
                              rng.choice(_CITIES), f"20{rng.randint(10, 26)}-{rng.randint(1, 12):02d}-"
                              f"{rng.randint(1, 28):02d}", round(rng.uniform(-50, 5000), 2)))
        db.executemany("INSERT INTO customers VALUES (?,?,?,?,?,?)", customers)
        products = []
        for i in range(1, 801):
            kind, size = rng.choice(_PRODUCTS), rng.choice(["small", "medium", "large", "XL"])
            products.append((i, f"{size} {kind} {rng.randint(100, 999)}", rng.randint(99, 99999),
                             rng.randint(0, 500), f"A {size} {kind} made of "
                             f"{rng.choice(['steel', 'brass', 'nylon', 'oak', 'aluminium'])}."))
        db.executemany("INSERT INTO products VALUES (?,?,?,?,?)", products)
        statuses = ["placed", "paid", "shipped", "delivered", "delivered", "delivered", "returned"]
        orders = [(i, rng.randint(1, 6000), rng.randint(1, 800), rng.randint(1, 12),
                   f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:"
                   f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}", rng.choice(statuses))
                  for i in range(1, 24001)]
        db.executemany("INSERT INTO orders VALUES (?,?,?,?,?,?)", orders)
        db.execute("CREATE INDEX orders_customer ON orders (customer_id)")
        db.execute("CREATE INDEX customers_city ON customers (city)")
        db.commit()
        db.execute("VACUUM")
        db.close()
        return _read(path)


def unicode_json(src: Sources) -> bytes:
    """Unicode database records (unicodedata), pretty-printed JSON, about 1 MB."""
    import unicodedata

    records, n = [], 2
    for cp in range(0x20, 0x30000):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat in ("Cn", "Cs", "Co"):
            continue
        rec = {"cp": f"U+{cp:04X}", "char": ch if cat[0] != "C" else None,
               "name": unicodedata.name(ch, None), "category": cat,
               "bidi": unicodedata.bidirectional(ch), "combining": unicodedata.combining(ch),
               "mirrored": bool(unicodedata.mirrored(ch)), "decomposition": unicodedata.decomposition(ch),
               "numeric": unicodedata.numeric(ch, None), "east_asian_width": unicodedata.east_asian_width(ch)}
        text = json.dumps(rec, ensure_ascii=False, indent=2)
        n += len(text.encode()) + 2
        if n > 1_000_000:
            break
        records.append(rec)
    return (json.dumps(records, ensure_ascii=False, indent=2) + "\n").encode()


def _args(fn: ast.AST) -> str:
    try:
        return ast.unparse(fn.args)  # type: ignore[attr-defined]
    except Exception:  # pragma: no cover - ast.unparse exists from 3.9
        return ""


def api_xml(src: Sources) -> bytes:
    """An index of the standard library's API (parsed with ast, not imported), as XML."""
    root = ET.Element("library")
    size = 0
    for path in src.stdlib_files():
        try:
            tree = ast.parse(_read(path))
        except (SyntaxError, ValueError):
            continue
        mod = ET.SubElement(root, "module", name=os.path.basename(path)[:-3], lines=str(tree.body[-1].end_lineno
                                                                                      if tree.body else 0))
        doc = ast.get_docstring(tree)
        if doc:
            ET.SubElement(mod, "doc").text = doc.split("\n\n")[0]
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                kind = "class" if isinstance(node, ast.ClassDef) else "function"
                el = ET.SubElement(mod, kind, name=node.name, line=str(node.lineno))
                if kind == "function":
                    el.set("args", _args(node))
                d = ast.get_docstring(node)
                if d:
                    ET.SubElement(el, "doc").text = d.split("\n\n")[0]
                if kind == "class":
                    for sub in node.body:
                        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                            m = ET.SubElement(el, "method", name=sub.name, line=str(sub.lineno), args=_args(sub))
                            d = ast.get_docstring(sub)
                            if d:
                                ET.SubElement(m, "doc").text = d.split("\n\n")[0]
        size += len(ET.tostring(mod))
        if size > 900_000:
            break
    ET.indent(root)
    blob = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"
    return blob


_AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
           "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Safari/537.36",
           "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/17.5 Mobile/15E148 Safari/604.1",
           "curl/8.5.0", "python-requests/2.32.3", "Googlebot/2.1 (+http://www.google.com/bot.html)"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _clock(rng: random.Random, t: float, mean_gap: float) -> float:
    return t + rng.expovariate(1.0 / mean_gap)


def _stamp(t: float) -> tuple:
    """(month index, day, h, m, s, fraction) of t seconds after 1 Nov 2026 00:00."""
    day, rest = divmod(t, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return 10, int(day) + 1, int(h), int(m), int(s), s - int(s)


def access_log(src: Sources) -> bytes:
    """A web server's access log (combined format), seeded."""
    rng = random.Random(202)
    names = [os.path.basename(p)[:-3] for p in src.stdlib_files()]
    ips = [f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
           for _ in range(400)]
    ip_w = [1.0 / (i + 1) for i in range(len(ips))]
    page_w = [1.0 / (i + 1) ** 0.8 for i in range(len(names))]
    lines, n, t = [], 0, 0.0
    while n < 1_000_000:
        t = _clock(rng, t, 2.0)
        mon, day, h, m, s, _ = _stamp(t)
        page = rng.choices(names, page_w)[0]
        kind = rng.random()
        if kind < 0.7:
            path = f"/docs/3/library/{page}.html"
        elif kind < 0.85:
            path = f"/static/{rng.choice(['css/site.css', 'js/app.js', 'img/logo.png', 'fonts/main.woff2'])}"
        else:
            path = f"/search?q={page}&page={rng.randint(1, 5)}"
        status = rng.choices([200, 304, 404, 301, 500], [85, 8, 4, 2, 1])[0]
        size = 0 if status == 304 else rng.randint(200, 60000)
        ref = "-" if rng.random() < 0.4 else f"https://docs.example.org/3/library/{rng.choice(names)}.html"
        line = (f'{rng.choices(ips, ip_w)[0]} - - [{day:02d}/{_MONTHS[mon]}/2026:{h:02d}:{m:02d}:{s:02d} +0000] '
                f'"{rng.choice(["GET"] * 9 + ["POST"])} {path} HTTP/1.1" {status} {size} "{ref}" '
                f'"{rng.choice(_AGENTS)}"\n')
        lines.append(line)
        n += len(line)
    return _cut_at_line("".join(lines).encode(), 1_000_000)


def system_log(src: Sources) -> bytes:
    """A syslog-style system log: kernel, sshd, cron, systemd and an application, seeded."""
    rng = random.Random(303)
    hosts = ["web01", "web02", "db01"]
    users = ["root", "deploy", "backup", "anna", "piotr", "www-data"]
    units = ["nginx.service", "postgresql.service", "cron.service", "backup.timer", "logrotate.service"]
    lines, n, t, pid = [], 0, 0.0, 1000
    while n < 700_000:
        t = _clock(rng, t, 4.0)
        mon, day, h, m, s, frac = _stamp(t)
        head = f"{_MONTHS[mon]} {day:2d} {h:02d}:{m:02d}:{s:02d} {rng.choice(hosts)} "
        r = rng.random()
        pid += rng.randint(1, 7)
        if r < 0.25:
            msg = (f"kernel: [{t:12.6f}] {rng.choice(['eth0', 'eth1'])}: "
                   f"{rng.choice(['link up, 1000Mbps, full-duplex', 'NETDEV WATCHDOG: transmit queue 0 timed out', 'renamed from veth%x' % rng.getrandbits(24)])}")
        elif r < 0.5:
            u = rng.choice(users)
            ip = f"10.{rng.randint(0, 3)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            msg = rng.choice([f"sshd[{pid}]: Accepted publickey for {u} from {ip} port {rng.randint(30000, 65000)} "
                              f"ssh2: ED25519 SHA256:{base64.b64encode(rng.randbytes(32)).decode()[:43]}",
                              f"sshd[{pid}]: pam_unix(sshd:session): session opened for user {u}(uid="
                              f"{users.index(u) + 1000}) by (uid=0)",
                              f"sshd[{pid}]: Failed password for invalid user {rng.choice(['admin', 'test', 'oracle'])} "
                              f"from {rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
                              f"{rng.randint(1, 254)} port {rng.randint(30000, 65000)} ssh2"])
        elif r < 0.65:
            msg = f"CRON[{pid}]: ({rng.choice(users)}) CMD (/usr/local/bin/{rng.choice(['backup', 'report', 'sync'])}.sh >/dev/null 2>&1)"
        elif r < 0.8:
            unit = rng.choice(units)
            msg = f"systemd[1]: {rng.choice(['Starting', 'Started', 'Stopping', 'Finished'])} {unit} - {unit.split('.')[0].title()}."
        else:
            msg = (f"app[{rng.randint(2000, 2010)}]: level={rng.choice(['info', 'info', 'warn', 'error'])} "
                   f"request_id={rng.getrandbits(64):016x} method={rng.choice(['GET', 'POST'])} "
                   f"path=/api/v1/{rng.choice(['orders', 'customers', 'products'])}/{rng.randint(1, 24000)} "
                   f"status={rng.choice([200, 200, 200, 201, 404, 500])} duration_ms={rng.lognormvariate(3, 1):.1f}")
        lines.append(head + msg + "\n")
        n += len(lines[-1])
    return _cut_at_line("".join(lines).encode(), 700_000)


def english_docs(src: Sources) -> bytes:
    """Python's reference documentation as plain text (pydoc_data.topics)."""
    try:
        from pydoc_data.topics import topics
    except ImportError:
        raise Unavailable("pydoc_data is not installed") from None
    text = "".join(f"{key}\n{'=' * len(key)}\n\n{topics[key].strip()}\n\n" for key in sorted(topics))
    return _cut_at_line(text.encode(), 1_000_000)


_MO_DIRS = ["/usr/share/locale", "/usr/share/locale-langpack", "/usr/local/share/locale"]


def _mo_messages(path: str) -> List[str]:
    """The translated strings (msgstr) of a gettext .mo catalog, header left out."""
    blob = _read(path)
    if len(blob) < 28:
        return []
    magic = struct.unpack_from("<I", blob)[0]
    end = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else None
    if end is None:
        return []
    _, count, _, tstr = struct.unpack_from(end + "4I", blob, 4)
    out = []
    for i in range(count):
        length, off = struct.unpack_from(end + "2I", blob, tstr + 8 * i)
        raw = blob[off : off + length]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return []  # a catalog in a legacy charset
        if text and not text.startswith("Project-Id-Version") and "Content-Type:" not in text[:400]:
            out += [t for t in text.split("\0") if t.strip()]
    return out


def _mo_paths(lang: str) -> List[str]:
    paths = []
    for d in _MO_DIRS:
        paths += glob.glob(os.path.join(d, lang, "LC_MESSAGES", "*.mo"))
    paths += glob.glob(f"/usr/share/vim/vim*/lang/{lang}.UTF-8/LC_MESSAGES/*.mo")
    return sorted(set(paths))


def translated_text(lang: str, size: int) -> Callable[[Sources], bytes]:
    def build(src: Sources) -> bytes:
        seen, lines, n = set(), [], 0
        for path in _mo_paths(lang):
            for msg in _mo_messages(path):
                if msg in seen:
                    continue
                seen.add(msg)
                lines.append(msg.rstrip("\n") + "\n")
                n += len(lines[-1].encode())
            if n >= size:
                break
        if n < size // 2:
            raise Unavailable(f"only {n:,} bytes of {lang} translations found (gettext catalogs under "
                              f"{_MO_DIRS[0]}/{lang}/LC_MESSAGES)")
        return _cut_at_line("".join(lines).encode(), size)

    build.__doc__ = f"Translated messages ({lang}) from the machine's gettext catalogs."
    return build


def sales_csv(src: Sources) -> bytes:
    """A spreadsheet export: daily sales per shop and product, seeded."""
    rng = random.Random(404)
    rows = ["date,shop,city,product,units,unit_price,discount,total\n"]
    n, day = len(rows[0]), 0
    prices = {p: round(rng.uniform(1.5, 250.0), 2) for p in _PRODUCTS}
    while n < 700_000:
        day += 1
        y, rest = divmod(day - 1, 360)
        date = f"{2020 + y}-{rest // 30 + 1:02d}-{rest % 30 + 1:02d}"
        for shop in range(1, 13):
            for product in rng.sample(_PRODUCTS, 6):
                units = max(0, int(rng.gauss(40, 15)))
                disc = rng.choice([0, 0, 0, 5, 10, 15])
                total = units * prices[product] * (100 - disc) / 100
                rows.append(f"{date},S{shop:03d},{_CITIES[shop]},{product},{units},{prices[product]:.2f},"
                            f"{disc}%,{total:.2f}\n")
                n += len(rows[-1])
    return _cut_at_line("".join(rows).encode(), 700_000)


def sound_wav(src: Sources) -> bytes:
    """Ten seconds of a synthetic melody with noise, 16-bit mono PCM at 44.1 kHz, seeded."""
    rng = random.Random(505)
    rate, seconds = 44100, 10
    notes = [261.63, 293.66, 329.63, 349.23, 392.0, 440.0, 493.88, 523.25]
    frames = bytearray()
    for beat in range(seconds * 4):
        f = rng.choice(notes)
        for i in range(rate // 4):
            env = math.exp(-3.0 * i / (rate // 4))
            v = env * (0.5 * math.sin(2 * math.pi * f * i / rate) + 0.2 * math.sin(4 * math.pi * f * i / rate))
            v += rng.gauss(0, 0.01)
            frames += struct.pack("<h", max(-32768, min(32767, int(v * 20000))))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return buf.getvalue()


def image_bmp(src: Sources) -> bytes:
    """A 640x480 24-bit BMP: a sky gradient, a sun, hills, mild seeded noise."""
    rng = random.Random(606)
    w, h = 640, 480
    row_bytes = (3 * w + 3) & ~3
    pixels = bytearray()
    for y in range(h - 1, -1, -1):  # BMP rows run bottom-up
        row = bytearray()
        for x in range(w):
            ground = 320 + 35 * math.sin(x * 0.015) + 15 * math.sin(x * 0.047 + 1.0)
            if y > ground:
                r, g, b = 40 + (y - 320) // 4, 120 + (x % 64) // 8, 40
            elif (x - 480) ** 2 + (y - 110) ** 2 < 50 ** 2:
                r, g, b = 255, 220, 90
            else:
                r, g, b = 90 + y // 4, 150 + y // 6, 255 - y // 8
            n = rng.randint(-3, 3)
            row += bytes((max(0, min(255, b + n)), max(0, min(255, g + n)), max(0, min(255, r + n))))
        pixels += row + bytes(row_bytes - len(row))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + bytes(pixels)


MIXED: List[Entry] = [
    Entry("python_stdlib.py", "mixed", "the standard library's top-level modules, sorted by name, "
          "concatenated (first 1.5 MB)", python_source),
    Entry("c_headers.h", "mixed", "C headers: Python's include directory (else /usr/include), "
          "sorted, concatenated (up to 1 MB)", c_source),
    Entry("libpython.so", "mixed", "first 2 MB of the interpreter's ELF shared library (libpython), "
          "else of its executable", elf_binary),
    Entry("shop.sqlite", "mixed", "SQLite 3 database, seeded rows: 6,000 customers, 800 products, "
          "24,000 orders, two indexes", sqlite_database),
    Entry("unicode.json", "mixed", "Unicode database records from unicodedata, pretty-printed JSON "
          "(about 1 MB)", unicode_json),
    Entry("stdlib_api.xml", "mixed", "index of the standard library's modules, classes, functions "
          "and docstrings (ast), XML (about 1 MB)", api_xml),
    Entry("access.log", "mixed", "web server access log, combined format, seeded (1 MB)", access_log),
    Entry("syslog.log", "mixed", "syslog lines from kernel, sshd, cron, systemd, an app; seeded "
          "(700 KB)", system_log),
    Entry("python_docs_en.txt", "mixed", "Python reference documentation text, all of pydoc_data.topics "
          "(up to 1 MB)", english_docs),
    Entry("messages_pl.txt", "mixed", "Polish translations from the machine's gettext catalogs "
          "(600 KB)", translated_text("pl", 600_000)),
    Entry("messages_ru.txt", "mixed", "Russian translations from the machine's gettext catalogs "
          "(600 KB)", translated_text("ru", 600_000)),
    Entry("messages_zh.txt", "mixed", "Chinese translations from the machine's gettext catalogs "
          "(600 KB)", translated_text("zh_CN", 600_000)),
    Entry("sales.csv", "mixed", "spreadsheet export of daily sales, seeded (700 KB)", sales_csv),
    Entry("melody.wav", "mixed", "10 s synthetic melody with noise, 16-bit mono PCM, seeded", sound_wav),
    Entry("landscape.bmp", "mixed", "640x480 24-bit BMP: gradient, sun, hills, seeded noise", image_bmp),
]


# -- inputs of every shape -------------------------------------------------

def _seeded_letters(alphabet: str, n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return "".join(rng.choices(alphabet, k=n)).encode()


def base64_lines(src: Sources) -> bytes:
    """Base64 of a binary (the mixed set's ELF or database) in 16,384-character lines."""
    try:
        raw = elf_binary(src)
    except Unavailable:
        raw = sqlite_database(src)
    text = base64.b64encode(raw[:750_000])
    lines = [text[i : i + 16384] + b"\n" for i in range(0, len(text), 16384)]
    return b"".join(lines)[:1_000_000]


def repeated_line(src: Sources) -> bytes:
    line = b"2026-11-24 06:38:05,000 INFO [worker-1] heartbeat: queue empty, 0 jobs pending\n"
    return (line * (1_000_000 // len(line) + 1))[:1_000_000]


def log_rulers(src: Sources) -> bytes:
    """A build/test log whose sections are set off by rulers of 80 to 4,000 characters."""
    rng = random.Random(707)
    names = [os.path.basename(p)[:-3] for p in src.stdlib_files()] or ["module"]
    out, n = [], 0
    while n < 1_000_000:
        ch = rng.choice("=-*#~_")
        width = rng.choice([80, 80, 120, 200, 1000, 4000])
        block = [ch * width + "\n", f"== test session: {rng.choice(names)} ==\n"]
        for _ in range(rng.randint(3, 20)):
            block.append(f"tests/test_{rng.choice(names)}.py::test_{rng.choice(names)} "
                         f"{rng.choice(['PASSED', 'PASSED', 'PASSED', 'FAILED', 'SKIPPED'])} "
                         f"[{rng.randint(0, 100):3d}%] {rng.uniform(0, 3):.3f}s\n")
        block.append(ch * width + "\n")
        s = "".join(block)
        out.append(s)
        n += len(s)
    return "".join(out).encode()[:1_000_000]


SHAPES: List[Entry] = [
    Entry("enwik8_1M", "shapes", "first 1,000,000 bytes of enwik8 (the yardstick)", lambda s: s.enwik8(1_000_000)),
    Entry("zeros_1M", "shapes", "1,000,000 zero bytes", lambda s: bytes(1_000_000)),
    Entry("dashes_1M", "shapes", "1,000,000 '-'", lambda s: b"-" * 1_000_000),
    Entry("acgt_1M", "shapes", "1,000,000 random ACGT letters, no newline, seeded",
          lambda s: _seeded_letters("ACGT", 1_000_000, 808)),
    Entry("lowercase_1M", "shapes", "1,000,000 random lowercase letters, no spaces, seeded",
          lambda s: _seeded_letters("abcdefghijklmnopqrstuvwxyz", 1_000_000, 909)),
    Entry("base64_lines_1M", "shapes", "base64 of the ELF (or database) in 16,384-character lines, 1,000,000 bytes",
          base64_lines),
    Entry("repeated_line_1M", "shapes", "one 80-byte log line repeated to 1,000,000 bytes", repeated_line),
    Entry("log_rulers_1M", "shapes", "test log with rulers of 80-4,000 characters, seeded, 1,000,000 bytes",
          log_rulers),
    Entry("random_300K", "shapes", "300,000 random bytes, seeded (incompressible)",
          lambda s: random.Random(1010).randbytes(300_000)),
    Entry("zeros_2M", "shapes", "2,000,000 zero bytes (first half of zeros_then_enwik8_4M)",
          lambda s: bytes(2_000_000)),
    Entry("enwik8_2M", "shapes", "first 2,000,000 bytes of enwik8 (second half of zeros_then_enwik8_4M)",
          lambda s: s.enwik8(2_000_000)),
    Entry("zeros_then_enwik8_4M", "shapes", "2,000,000 zero bytes, then the first 2,000,000 bytes of enwik8",
          lambda s: bytes(2_000_000) + s.enwik8(2_000_000)),
]


# -- small inputs ----------------------------------------------------------

SMALL_SIZES = sorted({0, 100, 1000, 3000, 10_000, 30_000, 50_000} | {1 << k for k in range(17)})


def _argparse_source(src: Sources) -> bytes:
    path = os.path.join(sysconfig.get_paths()["stdlib"], "argparse.py")
    blob = src.cached("argparse", lambda: _read(path))
    if len(blob) < SMALL_SIZES[-1]:
        raise Unavailable(f"{path} is shorter than {SMALL_SIZES[-1]:,} bytes")
    return blob


def _small(kind: str, n: int) -> Entry:
    if kind == "enwik8":
        return Entry(f"enwik8_{n:05d}", "small", f"first {n:,} bytes of enwik8", lambda s: s.enwik8(n))
    return Entry(f"source_{n:05d}", "small", f"first {n:,} bytes of the standard library's argparse.py",
                 lambda s: _argparse_source(s)[:n])


SMALL: List[Entry] = [_small(kind, n) for kind in ("enwik8", "source") for n in SMALL_SIZES]

ALL: Dict[str, List[Entry]] = {"mixed": MIXED, "shapes": SHAPES, "small": SMALL}
_ORDER = {e.name: i for i, e in enumerate(MIXED + SHAPES + SMALL)}


def entries(sets: Sequence[str], only: Optional[Sequence[str]] = None) -> List[Entry]:
    """The entries of the named sets, optionally only those whose name
    contains one of only; ValueError names an unknown set, or a part of only
    that is in no file's name."""
    unknown = [s for s in sets if s not in ALL]
    if unknown:
        raise ValueError(f"unknown set {', '.join(map(repr, unknown))}; the sets are {', '.join(SETS)}")
    every = [e for s in sets for e in ALL[s]]
    unmatched = [o for o in only or [] if not any(o in e.name for e in every)]
    if unmatched:
        raise ValueError(f"--only: no file of {', '.join(sets)} has {' or '.join(map(repr, unmatched))} in its "
                         f"name; the files are {', '.join(e.name for e in every)}")
    return [e for e in every if not only or any(o in e.name for o in only)]


def build(chosen: Sequence[Entry], outdir: str, enwik8: Optional[str] = None,
          log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr)) -> List[dict]:
    """Writes the chosen files to outdir (reusing a file whose bytes on disk
    are already the generated ones) and returns their manifest records; a
    file this machine cannot make is skipped with a note."""
    os.makedirs(outdir, exist_ok=True)
    manifest_path = os.path.join(outdir, MANIFEST)
    old = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            old = {r["name"]: r for r in json.load(f).get("files", [])}
    src = Sources(enwik8)
    records = []
    for e in chosen:
        path = os.path.join(outdir, e.name)
        try:
            blob = e.build(src)
        except Unavailable as exc:
            log(f"note: {e.name} is skipped: {exc}")
            continue
        digest = hashlib.sha256(blob).hexdigest()
        if not (os.path.isfile(path) and os.path.getsize(path) == len(blob)
                and hashlib.sha256(_read(path)).hexdigest() == digest):
            with open(path, "wb") as f:
                f.write(blob)
        records.append({"name": e.name, "set": e.set, "bytes": len(blob), "sha256": digest,
                        "origin": e.origin, "path": path})
    merged = dict(old)
    merged.update({r["name"]: r for r in records})
    with open(manifest_path, "w") as f:
        json.dump({"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version,
                   "files": sorted(merged.values(), key=lambda r: _ORDER.get(r["name"], len(_ORDER)))}, f, indent=2)
    return records


def table(records: Sequence[dict]) -> str:
    lines = ["| file | set | bytes | origin |", "|---|---|---:|---|"]
    lines += [f"| {r['name']} | {r['set']} | {r['bytes']:,} | {r['origin']} |" for r in records]
    lines.append(f"| total: {len(records)} files | | {sum(r['bytes'] for r in records):,} | |")
    return "\n".join(lines)


def refuse_missing_data(ap: argparse.ArgumentParser, data: Optional[str]) -> None:
    """A --data that names no file is a usage error (exit 2, one line), the
    same in every bench tool; absent, each tool looks for its default."""
    if data and not os.path.isfile(data):
        ap.exit(2, f"{ap.prog}: error: --data {data}: no such file\n")


def chosen_entries(ap: argparse.ArgumentParser, sets: Sequence[str], only: Optional[str]) -> List[Entry]:
    """entries() of a tool's sets and its --only string (comma-separated
    parts), an unknown set or an unmatched part being a usage error."""
    try:
        return entries(sets, only.split(",") if only else None)
    except ValueError as exc:
        ap.error(str(exc))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python bench/corpus.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", help="directory to write the files and MANIFEST.json to")
    ap.add_argument("--set", default="mixed", help=f"comma-separated sets: {', '.join(SETS)}, or all")
    ap.add_argument("--only", help="comma-separated parts of file names to keep")
    ap.add_argument("--data", help=f"the enwik8 prefix (default: ../shared/data/{ENWIK8_NAME})")
    args = ap.parse_args(argv)
    refuse_missing_data(ap, args.data)
    sets = list(SETS) if args.set == "all" else args.set.split(",")
    chosen = chosen_entries(ap, sets, args.only)
    records = build(chosen, args.outdir, args.data)
    print(table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
