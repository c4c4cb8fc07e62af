"""Shrink PNGs for the docs: an adaptive palette of at most ``--colours`` colours, optimised.

Photographs make large RGB PNGs (a 640x480 coco image is ~0.5 MB); the figures only need to be
readable, and a 256-colour palette keeps the thin coloured boxes exact while cutting the size 3-5x.

Example::

    python tools/visualization/quantize_png.py docs/images/*.png
"""
import argparse
import os
from typing import List, Optional, Sequence

from PIL import Image


def quantize_png(src: str, dst: Optional[str] = None, colours: int = 256) -> int:
    """Write ``src`` as a palette PNG to ``dst`` (default: in place); returns the new size in bytes.

    Args:
        src (str): input image.
        dst (str, optional): output PNG. Defaults to ``src``.
        colours (int): palette size, 2..256. Defaults to 256.
    """
    if not 2 <= colours <= 256:
        raise ValueError(f'colours must be in 2..256, got {colours}')
    with Image.open(src) as im:
        # median cut keeps rare saturated colours (the box outlines) in the palette
        pal = im.convert('RGB').quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    dst = dst or src
    pal.save(dst, 'PNG', optimize=True)
    return os.path.getsize(dst)


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('images', nargs='+', help='PNG files, rewritten in place')
    parser.add_argument('--colours', type=int, default=256, help='palette size (2..256)')
    args = parser.parse_args(argv)
    for path in args.images:
        before = os.path.getsize(path)
        after = quantize_png(path, colours=args.colours)
        print(f'{path}: {before // 1024} KB -> {after // 1024} KB')
    return list(args.images)


if __name__ == '__main__':
    main()
