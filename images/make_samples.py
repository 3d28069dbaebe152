"""Regenerate the bundled sample images from scikit-image's data (run from the project root):

    python images/make_samples.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import skimage.data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.image_io import save_image  # noqa: E402
from utils.synthetic import (  # noqa: E402
    band_hints,
    box_around,
    composite,
    hazy_motorcycle,
    mixtures,
    photo,
    watermark_mask,
    watermarked,
)
from utils.video import write_video  # noqa: E402

HERE = Path(__file__).resolve().parent
SEG_SHAPE = (224, 288)  # H, W of the texture composites
SEP_SHAPE = (192, 256)  # H, W of the separation samples


def main() -> None:
    for name in ("coffee", "chelsea", "astronaut", "rocket"):
        save_image(HERE / f"{name}.png", getattr(skimage.data, name)())
    # two layers: a grass horse on a brick wall, the grass given the brick's grey levels (colour alone cannot
    # split them: their structure does), with hints not centred on the edge (the horse eroded by 4 px, the
    # wall kept 16 px away from it) and the truth
    img, labels = composite(SEG_SHAPE, fg="grass", bg="brick", same_colours=True)
    fg, bg = band_hints(labels, [2, 0], [4, 16])
    save_image(HERE / "horse_grass_brick.png", img)
    save_image(HERE / "horse_grass_brick_fg_hint.png", fg)
    save_image(HERE / "horse_grass_brick_bg_hint.png", bg)
    save_image(HERE / "horse_grass_brick_truth.png", (labels == 2).astype(np.float32))
    # three layers: grass horse, gravel band, brick ground
    img, labels = composite(SEG_SHAPE, fg="grass", mg="gravel", bg="brick", fg_tint=(0.85, 1.0, 0.75),
                            mg_tint=(1.0, 0.9, 0.8))
    fg, mg, bg = band_hints(labels, [2, 1, 0], [4, 10, 16])
    save_image(HERE / "three_regions.png", img)
    for k, h in zip(("fg", "mg", "bg"), (fg, mg, bg), strict=True):
        save_image(HERE / f"three_regions_{k}_hint.png", h)
    save_image(HERE / "three_regions_truth.png", labels.astype(np.float32) / 2)
    # dehazing: the Motorcycle scene (x0.5) under haze of beta 0.2 per metre, airlight 0.8 grey
    hazy, clean, _ = hazy_motorcycle(beta=0.2, airlight=(0.8, 0.8, 0.8), scale=0.5)
    save_image(HERE / "hazy_motorcycle.png", hazy)
    save_image(HERE / "hazy_motorcycle_gt.png", clean)
    # video: a slow pan (20 frames, 192x128, 10 fps) across that hazy scene, and the same pan of the truth
    h, w = 128, 192
    xs = np.linspace(0, hazy.shape[1] - w, 20).round().astype(int)
    y0 = (hazy.shape[0] - h) // 2
    write_video(HERE / "hazy_pan.mp4", [hazy[y0:y0 + h, x:x + w] for x in xs], 10.0)
    write_video(HERE / "hazy_pan_gt.mp4", [clean[y0:y0 + h, x:x + w] for x in xs], 10.0)
    separation_samples()


def separation_samples() -> None:
    """Transparency: coffee seen through glass reflecting the astronaut, two shots with different weights
    (0.75 and 0.45 of the coffee), and the true layers; watermark: the cat under a white 'SAMPLE' mark of
    opacity 0.5, its hint (a box around the text) and the clean photo."""
    a, b = photo("coffee", SEP_SHAPE), photo("astronaut", SEP_SHAPE)
    for k, m in enumerate(mixtures(a, b, (0.75, 0.45)), 1):
        save_image(HERE / f"glass{k}.png", m)
    save_image(HERE / "glass1_layer1.png", a)
    save_image(HERE / "glass1_layer2.png", b)
    clean, coverage = photo("chelsea", SEP_SHAPE), watermark_mask(SEP_SHAPE)
    save_image(HERE / "watermarked.png", watermarked(clean, coverage, 0.5))
    save_image(HERE / "watermarked_hint.png", box_around(coverage))
    save_image(HERE / "watermarked_gt.png", clean)


if __name__ == "__main__":
    main()
