#!/usr/bin/env python3
"""Draws the Teams app icons (no dependencies): color.png 192x192 (a white check mark on a full-bleed colour)
and outline.png 32x32 (the same mark in white on a transparent background, as Teams requires)."""
import struct, zlib, os

def png(path, w, h, pixel):
    rows = b''.join(b'\x00' + b''.join(bytes(pixel(x, y)) for x in range(w)) for y in range(h))
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 6, 0, 0, 0))
                + chunk(b'IDAT', zlib.compress(rows, 9)) + chunk(b'IEND', b''))

def on_mark(x, y, size):
    # a check mark: two thick strokes, from (0.22,0.52) to (0.42,0.72) and on to (0.78,0.30), in units of size
    u, v = (x + 0.5) / size, (y + 0.5) / size
    def near(ax, ay, bx, by, width=0.085):
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((u - ax) * dx + (v - ay) * dy) / (dx * dx + dy * dy)))
        px, py = ax + t * dx - u, ay + t * dy - v
        return px * px + py * py <= width * width
    return near(0.22, 0.52, 0.42, 0.72) or near(0.42, 0.72, 0.78, 0.30)

here = os.path.dirname(os.path.abspath(__file__))
png(os.path.join(here, 'color.png'), 192, 192, lambda x, y: (255, 255, 255, 255) if on_mark(x, y, 192) else (46, 91, 219, 255))
png(os.path.join(here, 'outline.png'), 32, 32, lambda x, y: (255, 255, 255, 255) if on_mark(x, y, 32) else (0, 0, 0, 0))
