"""Reads a .smx file's structure without decoding it (``statesmix info``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from .container import FORMAT_VERSION, EndInfo, FrameInfo, Header, parse_header, parse_record
from .errors import StatesmixError


@dataclass
class Layout:
    header: Header
    frames: List[FrameInfo]
    end: Optional[EndInfo]
    compressed_size: int

    @property
    def tokens(self) -> int:
        return sum(f.n_tokens for f in self.frames)

    @property
    def raw_size(self) -> int:
        return sum(f.raw_len for f in self.frames)


def scan(data: bytes) -> Layout:
    """The header, the frame heads and the end marker of the first stream in data."""
    header = parse_header(data)
    if header is None:
        raise StatesmixError("file is truncated inside the header")
    pos = header.size
    frames: List[FrameInfo] = []
    end = None
    while True:
        rec = parse_record(data, pos, len(frames))
        if rec is None:
            break
        info, pos = rec
        if isinstance(info, EndInfo):
            end = info
            break
        frames.append(info)
        pos += info.payload_len
        if pos > len(data):
            break
    return Layout(header, frames, end, min(pos, len(data)))


def describe(data: bytes, name: str) -> str:
    lay = scan(data)
    h, p = lay.header, lay.header.params
    raw = lay.raw_size
    lines = [
        f"{name}:",
        f"  format version   {FORMAT_VERSION}",
        f"  level            {h.level}",
        f"  compressed size  {lay.compressed_size} bytes (header {h.size})",
        f"  original size    {raw} bytes" + ("" if lay.end else " so far (no end marker: truncated)"),
        f"  ratio            {8.0 * lay.compressed_size / raw:.3f} bits/byte" if raw else "  ratio            -",
        f"  tokens           {lay.tokens} in {len(lay.frames)} frames",
        f"  vocabulary       {p.vocab} tokens (256 bytes + {len(h.vocab.tokens)} BPE tokens)",
        f"  model            d_model={p.d_model} d_inner={p.d_inner} d_state={p.d_state} "
        f"d_conv={p.d_conv} layers={p.n_layers}",
        f"  training         chunk={p.chunk} steps={p.steps_first}/{p.steps_second}/{p.steps_rest} "
        f"lr={p.lr:g} smoothing={p.label_smoothing:g}",
        f"  n-gram orders    {','.join(map(str, p.orders))} (table 2^{p.table_bits} slots, pool {p.pool_limit})",
    ]
    if lay.end and lay.end.total_len != raw:
        lines.append(f"  warning          end marker says {lay.end.total_len} bytes")
    return "\n".join(lines)
