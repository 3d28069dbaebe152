"""A local web page to segment and dehaze by hand: draw strokes (or give a box) on a photo, run, look at the
result, correct the strokes, run again.

    pip install -r requirements-app.txt      # Gradio: optional, the scripts do not need it
    python app.py                            # then open http://127.0.0.1:7860
    python app.py --port=8000 --device=cuda

The page runs the experiment scripts' main() with the settings it shows, so every run also writes its
usual run folder under output/ (downloadable from the page as a zip). Strokes: red = foreground,
blue = background, green = middle ground (three layers).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
# stroke colours (RGB) -> hint
STROKES = {"fg": (255, 0, 0), "bg": (0, 0, 255), "mg": (0, 200, 0)}
SAMPLES = {"horse on brick (two layers)": "images/horse_grass_brick.png",
           "three regions (three layers)": "images/three_regions.png",
           "coffee (photo)": "images/coffee.png", "astronaut (photo)": "images/astronaut.png"}
HAZY_SAMPLE = "images/hazy_motorcycle.png"
PREVIEW_SECONDS = 0.5  # how often a running segmentation's current mask is refreshed on the page
DEVICE = "auto"  # set by --device


def strokes(value: dict[str, Any] | None, sample: tuple[np.ndarray, np.ndarray] | None = None
            ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The photo (float RGB in [0, 1]) and the hint masks drawn on it (bool HxW, by kind) from the image
    editor's value: every pixel where the drawing differs from the photo and whose colour is close to a
    stroke colour goes to that kind. `sample` is (the sample as given to the editor, its photo) (uint8):
    the editor flattens a sample's strokes into its background, so while the background is that sample,
    the photo without strokes comes from there."""
    from utils.errors import UserError
    if not value or value.get("background") is None:
        raise UserError("load an image first (upload one, or pick a sample)")
    drawn = np.asarray(value.get("composite") if value.get("composite") is not None else value["background"])[:, :, :3]
    base = np.asarray(value["background"])[:, :, :3]
    if sample is not None and sample[0].shape == base.shape and np.array_equal(sample[0], base):
        base = sample[1]
    h, w = base.shape[:2]
    painted = np.any(drawn != base, axis=2)
    colours = np.array(list(STROKES.values()), np.float32)
    dist = ((drawn[painted].astype(np.float32)[:, None, :] - colours[None]) ** 2).sum(-1)
    nearest, close = np.argmin(dist, axis=1), dist.min(axis=1) < 120.0 ** 2
    masks = {}
    for k, kind in enumerate(STROKES):
        m = np.zeros((h, w), bool)
        m[painted] = (nearest == k) & close
        masks[kind] = m
    return base.astype(np.float32) / 255.0, masks


def sample_editor(name: str) -> tuple[dict[str, Any] | None, tuple[np.ndarray, np.ndarray] | None]:
    """A bundled sample for the editor, with its hints (when it has them) drawn as strokes, and (that
    drawing, the photo) for `strokes`."""
    from utils.image_io import beside, load_image, to_uint8
    if name not in SAMPLES:
        return None, None
    path = ROOT / SAMPLES[name]
    image = to_uint8(load_image(path))
    layer = np.zeros(image.shape[:2] + (4,), np.uint8)
    for kind, colour in STROKES.items():
        hint = beside(path, f"_{kind}_hint.png")
        if hint:
            m = load_image(hint)[:, :, 0] > 0.5
            m &= _thin(m)  # a hint region drawn as its outline band: strokes, as a person would draw them
            layer[m] = (*colour, 255)
    composite = image.copy()
    painted = layer[:, :, 3] > 0
    composite[painted] = layer[painted][:, :3]
    return {"background": composite, "layers": [], "composite": composite}, (composite, image)


def _thin(mask: np.ndarray, width: int = 4) -> np.ndarray:
    """Pixels of `mask` within `width` of its inside edge, and a cross through its middle."""
    from scipy import ndimage
    inner = ndimage.binary_erosion(mask, iterations=width, border_value=1)
    band = mask & ~inner
    ys, xs = np.nonzero(mask)
    cross = np.zeros_like(mask)
    if len(ys):
        cy, cx = int(np.median(ys)), int(np.median(xs))
        cross[max(0, cy - 2):cy + 3, :] = True
        cross[:, max(0, cx - 2):cx + 3] = True
    return band | (cross & mask)


def _run(script: str, args: list[str]) -> Any:
    """An experiment script's main() in this process; its printing kept from the page's console."""
    import importlib
    with contextlib.redirect_stdout(io.StringIO()):
        return importlib.import_module(script).main([*args, f"--device={DEVICE}"])


def _zip(run_dir: Path) -> str:
    return shutil.make_archive(str(run_dir), "zip", run_dir)


def defaults(script: str) -> dict[str, Any]:
    """A script's settings as its constants give them (utils.config): the page's controls start there, so no
    default lives twice."""
    import importlib

    from utils.config import configure
    return configure(vars(importlib.import_module(script)), []).as_dict()


def segment(editor: dict[str, Any] | None, sample: tuple | None, layers: int, method: str, box: str,
            iters: int, dip: bool = True) -> Iterator[tuple]:
    """The page's Run button: the strokes (and box) as hint masks, segmentation.py on them in a worker
    thread. Yields, while it runs, the current mask (the foreground layer's share at the nets' working
    size, from net.loop's watchers) and the iteration; then overlay, mask (or label map), figure, layer
    images, the zip of the run folder and a status line."""
    import gradio as gr

    from net import loop
    from utils.errors import UserError
    from utils.image_io import load_image, save_image
    latest: dict[str, Any] = {}

    def watch(desc: str, i: int, outputs: dict) -> None:
        if "mask" in outputs:  # K×h×w layer shares: the first is the foreground's
            latest.update(mask=outputs["mask"][0].float().cpu().numpy().clip(0, 1), step=f"{desc}, iteration {i}")

    try:
        image, masks = strokes(editor, sample)
        if not box.strip() and (not masks["fg"].any() or not masks["bg"].any()):
            raise UserError("draw both kinds of strokes: red on the object (foreground) and blue on the background "
                            "(or give a box)")
        if int(layers) > 2 and not masks["mg"].any():
            raise UserError("three layers need green strokes on the middle ground too")
        with tempfile.TemporaryDirectory(prefix="page_") as tmp:  # the photo and hint files, for the run only
            src = save_image(Path(tmp) / "photo.png", image)
            args = [f"--input={src}", f"--layers={int(layers)}", f"--method={method}", "--truth=", "--hints=auto",
                    f"--step1_iters={int(iters)}", f"--dip={bool(dip)}", "--progress=true"]
            for kind, m in masks.items():
                if m.any() and (kind != "mg" or int(layers) > 2):
                    args.append(f"--{kind}_hint={save_image(Path(tmp) / f'{kind}.png', m.astype(np.float32))}")
            if box.strip():
                args.append(f"--box={box.strip()}")
            loop.WATCHERS.append(watch)
            try:
                with ThreadPoolExecutor(1) as pool:
                    job = pool.submit(_run, "segmentation", args)
                    shown = None
                    while not job.done():
                        time.sleep(PREVIEW_SECONDS)
                        if latest.get("step") not in (None, shown):
                            shown = latest["step"]
                            yield (gr.skip(), latest["mask"], gr.skip(), gr.skip(), gr.skip(), f"running: {shown}")
                    result = job.result()
            finally:
                loop.WATCHERS.remove(watch)
    except UserError as e:
        raise gr.Error(str(e)) from None
    run = Path(result.run_dir)
    two = int(layers) == 2
    mask = load_image(run / ("mask.png" if two else "labels_vis.png"))
    gallery = [(load_image(p), p.stem.replace("_", " ")) for p in sorted(run.glob("*_layer.png"))]
    status = f"done in {result.results.get('wall_time_s', 0):.1f} s; run folder {run}"
    figure = next((run / f for f in ("figure.png", "curves.png") if (run / f).exists()), None)  # (nets off: none)
    files = [_zip(run), str(run / ("mask.png" if two else "labels.png"))]  # the zip, and the mask or label map
    yield load_image(run / "overlay.png"), mask, load_image(figure) if figure else None, gallery, files, status


def dehaze(image: np.ndarray | None, stages: int, iters: int, dip: bool = True) -> tuple:
    """The dehazing tab's Run button: dehazing_system.py on the image; returns (input, dehazed) for the
    comparison slider, the transmission, the zip of the run folder and a status line."""
    import gradio as gr

    from utils.errors import UserError
    from utils.image_io import load_image, save_image
    try:
        if image is None:
            raise UserError("load a hazy image first (upload one, or use the sample)")
        hazy = np.asarray(image)[:, :, :3].astype(np.float32) / 255.0
        with tempfile.TemporaryDirectory(prefix="page_") as tmp:
            src = save_image(Path(tmp) / "hazy.png", hazy)
            result = _run("dehazing_system", [f"--input={src}", "--gt=", f"--stages={int(stages)}",
                                              f"--iters={int(iters)}", f"--dip={bool(dip)}"])
    except UserError as e:
        raise gr.Error(str(e)) from None
    run = Path(result.run_dir)
    status = f"done in {result.results.get('wall_time_s', 0):.1f} s; run folder {run}"
    return (hazy, load_image(run / "dehazed.png")), load_image(run / "transmission.png"), _zip(run), status


def build():  # -> gradio.Blocks
    """The page: a segmentation tab (strokes or a box) and a dehazing tab."""
    import gradio as gr
    seg, haze = defaults("segmentation"), defaults("dehazing_system")
    tracked = gr.Progress(track_tqdm=True)  # a handler with this default shows the loop's tqdm bars on the page
    brush = gr.Brush(default_size=6, colors=[f"rgb{c}" for c in STROKES.values()], default_color="rgb(255, 0, 0)",
                     color_mode="fixed")
    with gr.Blocks(title="Coupled Deep Image Priors") as page:
        gr.Markdown("# Coupled Deep Image Priors\nSegment a photo from a few strokes, or dehaze it. "
                    "Strokes: **red** = object (foreground), **blue** = background, **green** = middle ground.")
        with gr.Tab("Segmentation"):
            with gr.Row():
                with gr.Column():
                    sample = gr.Dropdown(list(SAMPLES), label="or pick a bundled sample", value=None,
                                         elem_id="sample")
                    editor = gr.ImageEditor(type="numpy", brush=brush, label="photo and strokes", elem_id="editor",
                                            image_mode="RGB", transforms=(), layers=False, format="png")
                    sample_state = gr.State(None)  # (the sample as drawn, its photo without strokes)
                    with gr.Row():
                        layers = gr.Radio([2, 3], value=seg["layers"], label="layers")
                        method = gr.Radio(["system", "multi"], value=seg["method"], label="method (three layers)")
                    box = gr.Textbox(label="box x0,y0,x1,y1 (pixels or fractions; optional)", elem_id="box")
                    iters = gr.Slider(10, 1000, value=seg["step1_iters"], step=10, label="iterations")
                    dip = gr.Checkbox(value=seg["dip"], label="nets on (off: the classical cut alone)")
                    run = gr.Button("Run", variant="primary", elem_id="run")
                with gr.Column():
                    status = gr.Textbox(label="status", interactive=False, elem_id="status")
                    overlay = gr.Image(label="overlay", elem_id="overlay", interactive=False)
                    mask = gr.Image(label="mask / labels (while it runs: the current mask)", interactive=False,
                                    elem_id="mask")
                    figure = gr.Image(label="figure (three layers) or the loss curves", interactive=False)
                    gallery = gr.Gallery(label="layers", columns=3)
                    download = gr.File(label="run folder (zip) and the mask, or labels.png (0 bg, 1 mg, 2 fg)",
                                       file_count="multiple")
            sample.change(sample_editor, sample, [editor, sample_state])

            def run_segment(editor, sample, layers, method, box, iters, dip, progress=tracked):
                yield from segment(editor, sample, layers, method, box, iters, dip)  # progress: the loop's bars

            run.click(run_segment, [editor, sample_state, layers, method, box, iters, dip],
                      [overlay, mask, figure, gallery, download, status])
        with gr.Tab("Dehazing"):
            with gr.Row():
                with gr.Column():
                    hazy = gr.Image(type="numpy", label="hazy image", value=str(ROOT / HAZY_SAMPLE), image_mode="RGB")
                    stages = gr.Radio([1, 2, 3, 4], value=haze["stages"], label="stages")
                    d_iters = gr.Slider(10, 2000, value=haze["iters"], step=10, label="iterations")
                    d_dip = gr.Checkbox(value=haze["dip"], label="nets on (off: the dark-channel prior's t alone)")
                    d_run = gr.Button("Dehaze", variant="primary", elem_id="dehaze")
                with gr.Column():
                    d_status = gr.Textbox(label="status", interactive=False)
                    compare = gr.ImageSlider(label="before / after")
                    transmission = gr.Image(label="transmission", interactive=False)
                    d_download = gr.File(label="run folder (zip)")

            def run_dehaze(image, stages, iters, dip, progress=tracked):
                return dehaze(image, stages, iters, dip)

            d_run.click(run_dehaze, [hazy, stages, d_iters, d_dip], [compare, transmission, d_download, d_status])
    return page


def main(argv: list[str] | None = None) -> None:
    global DEVICE
    p = argparse.ArgumentParser(description="A local web page for segmentation and dehazing.")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, mps")
    a = p.parse_args(argv)
    DEVICE = a.device
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise SystemExit("error: the web page needs Gradio: pip install -r requirements-app.txt") from None
    build().queue().launch(server_name="127.0.0.1", server_port=a.port)


if __name__ == "__main__":
    main()
