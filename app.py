"""A local web page to segment and dehaze by hand: draw strokes (or give a box) on a photo, run, look at the
result, correct the strokes, run again.

    pip install -r requirements-app.txt      # Gradio: optional, the scripts do not need it
    python app.py                            # then open http://127.0.0.1:7860
    python app.py --port=8000 --device=cuda
    python app.py --debug                    # user errors keep their tracebacks in the server log

The page runs the experiment scripts' main() with the settings it shows, so every run also writes its
usual run folder under output/ (downloadable from the page as a zip). Strokes: red = foreground,
blue = background, green = middle ground (three layers).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
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
DEBUG = False  # set by --debug: user errors keep their tracebacks in the server log


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
    drawing, the photo, its name) for `strokes`."""
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
    return _photo(composite), (composite, image, SAMPLES[name])


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
    """An experiment script's main() in this process; its printing kept from the page's console (the page
    shows its own progress: the scripts run with --progress=false, so no bars reach the server's log)."""
    import importlib
    with contextlib.redirect_stdout(io.StringIO()):
        return importlib.import_module(script).main([*args, f"--device={DEVICE}", "--progress=false"])


def _zip(run_dir: Path) -> str:
    return shutil.make_archive(str(run_dir), "zip", run_dir)


def defaults(script: str) -> dict[str, Any]:
    """A script's settings as its constants give them (utils.config): the page's controls start there, so no
    default lives twice."""
    import importlib

    from utils.config import configure
    return configure(vars(importlib.import_module(script)), []).as_dict()


def _user_error(e: Exception, names: dict[str, str]):  # -> gradio.Error
    """A user's mistake as one line, on the page and in the server log, with the page's temporary copies named
    as the user knows them (`names`: path -> name). No traceback unless the page runs with --debug."""
    import gradio as gr
    message = str(e)
    for path, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        message = message.replace(path, name)
    print(f"page: {message}", file=sys.stderr, flush=True)
    return gr.Error(message, print_exception=DEBUG)


def load_upload(path: str | None) -> tuple[np.ndarray, str]:
    """An uploaded file (its path in Gradio's cache, which keeps the file's own name) as uint8 RGB, and that
    name. Not an image, or smaller than 4x4: one line naming the file as the user knows it."""
    from utils.errors import UserError
    from utils.image_io import load_image, to_uint8
    if not path:
        raise UserError("no file was uploaded")
    name = Path(path).name
    try:
        image = load_image(path, f"the uploaded file {name}")
    except UserError as e:
        raise _user_error(e, {str(path): name}) from None
    if min(image.shape[:2]) < 4:
        raise _user_error(UserError(f"the uploaded file {name} is too small ({image.shape[1]}x{image.shape[0]}): "
                                    "need at least 4x4 pixels"), {})
    return to_uint8(image), name


def _photo(value: np.ndarray) -> dict[str, Any]:
    return {"background": value, "layers": [], "composite": value}


def upload_for_editor(path: str | None) -> tuple[dict[str, Any], tuple]:
    """An uploaded photo in the editor, and (its background, the photo, its name) for `strokes` and the run."""
    image, name = load_upload(path)
    return _photo(image), (image, image, name)


BOX_COLOUR = (255, 220, 0)  # the box as drawn on the photo: far from every stroke colour, so never read as one


def draw_box(editor: dict[str, Any] | None, sample: tuple | None, box: str) -> tuple[dict[str, Any] | Any, tuple]:
    """The photo in the editor with its strokes and the box typed beside it drawn on it (a typed box is not
    typed blind); the strokes are kept, the box's outline is no stroke."""
    import gradio as gr

    from classical.hints import parse_box
    from utils.errors import UserError
    try:
        image, masks = strokes(editor, sample)
    except UserError:
        return gr.skip(), sample
    photo = (image * 255 + 0.5).astype(np.uint8)
    drawn = photo.copy()
    for kind, m in masks.items():
        drawn[m] = STROKES[kind]
    if box.strip():
        try:
            x0, y0, x1, y1 = parse_box(box.strip(), photo.shape[:2])
        except UserError:
            return gr.skip(), sample  # half-typed: nothing drawn yet (a run says what is wrong)
        width = max(2, round(0.005 * max(photo.shape[:2])))
        outline = np.zeros(photo.shape[:2], bool)
        outline[y0:y1, x0:x1] = True
        outline[y0 + width:y1 - width, x0 + width:x1 - width] = False
        drawn[outline & ~np.any(list(masks.values()), axis=0)] = BOX_COLOUR
    return _photo(drawn), (drawn, photo, sample[2] if sample else "photo")


def _name_input(run_dir: Path, name: str) -> None:
    """results.json names the user's file (the page's copy of it was temporary and is gone)."""
    import json

    from utils.atomic import atomic_path
    path = run_dir / "results.json"
    results = json.loads(path.read_text())
    results.update(input=f"{name} (on the web page)", input_copy="a temporary copy, deleted after the run")
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(results, indent=2) + "\n")


class Watch:
    """The page's view of a run from net.loop's watchers: how far it is (over `loops` optimisation loops, in
    the order they come), what it does, and its current mask."""

    def __init__(self, loops: int):
        self.loops, self.done, self.desc, self.i, self.total, self.mask = loops, 0, "", 0, 1, None

    def __call__(self, desc: str, i: int, total: int, outputs: dict) -> None:
        if self.desc and desc != self.desc:
            self.done += 1
        self.desc, self.i, self.total = desc, i, total
        if "mask" in outputs:  # K×h×w layer shares: the first is the foreground's
            self.mask = outputs["mask"][0].float().cpu().numpy().clip(0, 1)

    @property
    def fraction(self) -> float:
        return min(1.0, (self.done + (self.i + 1) / max(self.total, 1)) / self.loops)

    @property
    def finishing(self) -> bool:
        return self.done >= self.loops - 1 and self.i >= self.total - 1

    def status(self, finishing: str) -> str:
        if not self.desc:
            return "starting"
        if self.finishing:
            return f"finishing: {finishing}"
        return f"running: {self.desc}, iteration {self.i + 1} of {self.total}"


def _watched(script: str, args: list[str], watch: Watch, progress: Any, finishing: str
             ) -> Iterator[tuple[str, Any]]:
    """Run a script in a worker thread, yielding ("status", line) while it runs (the progress bar moved with
    it) and ("done", result) at the end."""
    from net import loop
    loop.WATCHERS.append(watch)
    try:
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(_run, script, args)
            shown = None
            while not job.done():
                time.sleep(PREVIEW_SECONDS)
                line = watch.status(finishing)
                if progress is not None:
                    progress(watch.fraction if watch.desc else 0.0, desc=line)
                if line != shown:
                    shown = line
                    yield "status", line
            yield "done", job.result()
    finally:
        loop.WATCHERS.remove(watch)


def segment(editor: dict[str, Any] | None, sample: tuple | None, layers: int, method: str, box: str,
            iters: int, dip: bool = True, progress: Any = None) -> Iterator[tuple]:
    """The page's Run button: the strokes (and box) as hint masks, segmentation.py on them in a worker
    thread. Yields, while it runs, the current mask (the foreground layer's share at the nets' working
    size) and a status line (a progress bar moves with it); then overlay, mask (or label map: the object
    white, a middle ground grey, the background black, as a two-layer mask), figure, layer images, the
    zip of the run folder and a status line."""
    import gradio as gr

    from utils.errors import UserError
    from utils.image_io import load_image, save_image
    name = sample[2] if sample else "photo"  # (every editor state: the drawing, the photo, its name)
    names: dict[str, str] = {}
    try:
        image, masks = strokes(editor, sample)
        if not box.strip() and (not masks["fg"].any() or not masks["bg"].any()):
            raise UserError("draw both kinds of strokes: red on the object (foreground) and blue on the background "
                            "(or give a box)")
        if int(layers) > 2 and not masks["mg"].any():
            raise UserError("three layers need green strokes on the middle ground too")
        with tempfile.TemporaryDirectory(prefix="page_") as tmp:  # the photo and hint files, for the run only
            src = save_image(Path(tmp) / "photo.png", image)
            names = {str(src): name, tmp: "the page's folder"}
            args = [f"--input={src}", f"--layers={int(layers)}", f"--method={method}", "--truth=", "--hints=auto",
                    f"--step1_iters={int(iters)}", f"--dip={bool(dip)}"]
            for kind, m in masks.items():
                if m.any() and (kind != "mg" or int(layers) > 2):
                    args.append(f"--{kind}_hint={save_image(Path(tmp) / f'{kind}.png', m.astype(np.float32))}")
            if box.strip():
                args.append(f"--box={box.strip()}")
            watch = Watch(3 if int(layers) == 3 and method == "system" else 1)  # (the system: three pairwise runs)
            for kind, value in _watched("segmentation", args, watch, progress,
                                        "the graph cut, the labels at full size and the files"):
                if kind == "done":
                    result = value
                elif watch.mask is not None:
                    yield gr.skip(), watch.mask, gr.skip(), gr.skip(), gr.skip(), value
                else:
                    yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), value
    except UserError as e:
        raise _user_error(e, names) from None
    run = Path(result.run_dir)
    _name_input(run, name)
    two = int(layers) == 2
    if two:
        mask = load_image(run / "mask.png")
    else:  # one rule for both: the object white, the background black, the middle ground grey
        mask = np.rint(load_image(run / "labels.png")[:, :, 0] * 255) / (int(layers) - 1)
    gallery = [(load_image(p), f"{p.stem.replace('_', ' ')}: grown from its hint (rough after a few iterations; "
                                "the labels come from the cut)") for p in sorted(run.glob("*_layer.png"))]
    status = f"done in {result.results.get('wall_time_s', 0):.1f} s; run folder {run}"
    figure = next((run / f for f in ("figure.png", "curves.png") if (run / f).exists()), None)  # (nets off: none)
    files = [_zip(run), str(run / ("mask.png" if two else "labels.png"))]  # the zip, and the mask or label map
    yield load_image(run / "overlay.png"), mask, load_image(figure) if figure else None, gallery, files, status


def upload_hazy(path: str | None) -> tuple[np.ndarray, tuple[np.ndarray, str]]:
    """An uploaded hazy photo: shown, and kept (the photo, its name) for the run."""
    image, name = load_upload(path)
    return image, (image, name)


def dehaze(hazy: tuple[np.ndarray, str] | None, stages: int, iters: int, dip: bool = True,
           progress: Any = None) -> Iterator[tuple]:
    """The dehazing tab's Run button: dehazing_system.py on the photo in a worker thread, a status line (and
    progress bar) naming the stage, k of N, while it runs; then (input, dehazed) for the comparison slider,
    the transmission, every stage's result, the zip of the run folder and a status line."""
    import gradio as gr

    from utils.errors import UserError
    from utils.image_io import load_image, save_image
    names: dict[str, str] = {}
    try:
        if hazy is None:
            raise UserError("load a hazy image first (upload one, or use the sample)")
        image, name = hazy
        photo = np.asarray(image)[:, :, :3].astype(np.float32) / 255.0
        with tempfile.TemporaryDirectory(prefix="page_") as tmp:
            src = save_image(Path(tmp) / "hazy.png", photo)
            names = {str(src): name, tmp: "the page's folder"}
            watch = Watch(int(stages) if dip else 1)
            for kind, value in _watched("dehazing_system", [f"--input={src}", "--gt=", f"--stages={int(stages)}",
                                                            f"--iters={int(iters)}", f"--dip={bool(dip)}"],
                                        watch, progress, "the result at full size and the files"):
                if kind == "done":
                    result = value
                else:
                    yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), value
    except UserError as e:
        raise _user_error(e, names) from None
    run = Path(result.run_dir)
    _name_input(run, name)
    n = int(stages)
    shown = [(load_image(run / f"stage{k}_J.png"), f"stage {k + 1} of {n}") for k in range(n)] if n > 1 else \
        [(load_image(run / "dehazed.png"), "stage 1 of 1")]
    status = f"done in {result.results.get('wall_time_s', 0):.1f} s; run folder {run}"
    yield (photo, load_image(run / "dehazed.png")), load_image(run / "transmission.png"), shown, _zip(run), status


def build():  # -> gradio.Blocks
    """The page: a segmentation tab (strokes or a box) and a dehazing tab."""
    import gradio as gr

    from utils.image_io import load_image, to_uint8
    seg, haze = defaults("segmentation"), defaults("dehazing_system")
    brush = gr.Brush(default_size=6, colors=[f"rgb{c}" for c in STROKES.values()], default_color="rgb(255, 0, 0)",
                     color_mode="fixed")
    hazy_sample = to_uint8(load_image(ROOT / HAZY_SAMPLE))
    tracked = gr.Progress()  # a handler with this default gets the page's progress bar
    with gr.Blocks(title="Coupled Deep Image Priors") as page:
        gr.Markdown("# Coupled Deep Image Priors\nSegment a photo from a few strokes, or dehaze it. "
                    "Strokes: **red** = object (foreground), **blue** = background, **green** = middle ground.")
        with gr.Tab("Segmentation"):
            with gr.Row():
                with gr.Column():
                    upload = gr.File(label="upload a photo", file_types=["image"], elem_id="upload", height=120)
                    sample = gr.Dropdown(list(SAMPLES), label="or pick a bundled sample", value=None,
                                         elem_id="sample")
                    editor = gr.ImageEditor(type="numpy", brush=brush, label="photo and strokes", elem_id="editor",
                                            image_mode="RGB", transforms=(), layers=False, format="png", sources=())
                    sample_state = gr.State(None)  # (the photo as drawn in the editor, the photo, its name)
                    with gr.Row():
                        layers = gr.Radio([2, 3], value=seg["layers"], label="layers", elem_id="layers")
                        method = gr.Radio(["system", "multi"], value=seg["method"], label="method (three layers)")
                    box = gr.Textbox(label="box x0,y0,x1,y1 (pixels or fractions; optional): drawn in yellow once "
                                           "typed",
                                     elem_id="box")
                    iters = gr.Slider(10, 1000, value=seg["step1_iters"], step=10, label="iterations", elem_id="iters")
                    dip = gr.Checkbox(value=seg["dip"], label="nets on (off: the classical cut alone)")
                    run = gr.Button("Run", variant="primary", elem_id="run")
                with gr.Column():
                    status = gr.Textbox(label="status", interactive=False, elem_id="status")
                    overlay = gr.Image(label="overlay", elem_id="overlay", interactive=False)
                    mask = gr.Image(label="mask: object white, middle ground grey, background black",
                                    interactive=False, elem_id="mask")  # (while it runs: the nets' current mask)
                    gr.Markdown("**figure** (three layers) or the loss curves")
                    figure = gr.Image(show_label=False, interactive=False, buttons=[], elem_id="figure")
                    gallery = gr.Gallery(label="layers the nets grew from the hints", columns=3, elem_id="gallery")
                    download = gr.File(label="run folder (zip) and the mask, or labels.png (0 bg, 1 mg, 2 fg)",
                                       file_count="multiple", elem_id="download")
            uploaded = gr.State(None)  # the file's path: the upload field is emptied at once, ready for the next
            upload.upload(lambda f: (f, None), upload, [uploaded, upload]).then(
                upload_for_editor, uploaded, [editor, sample_state])
            sample.change(sample_editor, sample, [editor, sample_state])
            for typed in (box.submit, box.blur):  # drawn once typed (Enter, or leaving the field), not at each key
                typed(draw_box, [editor, sample_state, box], [editor, sample_state])

            def run_segment(editor, sample, layers, method, box, iters, dip, progress=tracked):
                yield from segment(editor, sample, layers, method, box, iters, dip, progress)

            run.click(run_segment, [editor, sample_state, layers, method, box, iters, dip],
                      [overlay, mask, figure, gallery, download, status])
        with gr.Tab("Dehazing"):
            with gr.Row():
                with gr.Column():
                    d_upload = gr.File(label="upload a hazy photo", file_types=["image"], elem_id="d_upload",
                                       height=120)
                    hazy = gr.Image(value=hazy_sample, label="hazy photo (the bundled sample until you upload one)",
                                    interactive=False, elem_id="hazy")
                    hazy_state = gr.State((hazy_sample, HAZY_SAMPLE))  # (the photo, its name)
                    stages = gr.Radio([1, 2, 3, 4], value=haze["stages"], label="stages", elem_id="stages")
                    d_iters = gr.Slider(10, 2000, value=haze["iters"], step=10, label="iterations",
                                        elem_id="d_iters")
                    d_dip = gr.Checkbox(value=haze["dip"], label="nets on (off: the dark-channel prior's t alone)")
                    d_run = gr.Button("Dehaze", variant="primary", elem_id="dehaze")
                with gr.Column():
                    d_status = gr.Textbox(label="status", interactive=False, elem_id="d_status")
                    compare = gr.ImageSlider(label="before / after", elem_id="compare")
                    transmission = gr.Image(label="transmission", interactive=False, elem_id="transmission")
                    stage_gallery = gr.Gallery(label="every stage's result", columns=4, elem_id="stage_gallery")
                    d_download = gr.File(label="run folder (zip)", elem_id="d_download")
            d_uploaded = gr.State(None)
            d_upload.upload(lambda f: (f, None), d_upload, [d_uploaded, d_upload]).then(
                upload_hazy, d_uploaded, [hazy, hazy_state])

            def run_dehaze(hazy, stages, iters, dip, progress=tracked):
                yield from dehaze(hazy, stages, iters, dip, progress)

            d_run.click(run_dehaze, [hazy_state, stages, d_iters, d_dip],
                        [compare, transmission, stage_gallery, d_download, d_status])
    return page


def main(argv: list[str] | None = None) -> None:
    global DEVICE, DEBUG
    p = argparse.ArgumentParser(description="A local web page for segmentation and dehazing.")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, mps")
    p.add_argument("--debug", action="store_true", help="keep the tracebacks of user errors in the server log")
    a = p.parse_args(argv)
    DEVICE, DEBUG = a.device, a.debug
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise SystemExit("error: the web page needs Gradio: pip install -r requirements-app.txt") from None
    build().queue().launch(server_name="127.0.0.1", server_port=a.port)


if __name__ == "__main__":
    main()
