"""The local web page (app.py): strokes read from the editor, the handlers in-process, and (marked `browser`)
a real headless Chromium driven as a user: strokes on the canvas, a typed box drawn on an uploaded photo,
three layers with the green brush, dehazing in three stages, bad uploads. They need
`pip install -r requirements-app.txt selenium` and Debian's chromium + chromium-driver (skipped without them,
failing under CI=true, where .ci/run installs them):

    python -m pytest -m browser tests/test_app.py
"""
import contextlib
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import needs

import app


def _editor(photo: np.ndarray, painted: dict[str, np.ndarray]) -> dict:
    drawn = photo.copy()
    for kind, m in painted.items():
        drawn[m] = app.STROKES[kind]
    return {"background": photo, "layers": [], "composite": drawn}


def test_strokes_are_read_by_their_colour_and_only_where_something_was_drawn():
    rng = np.random.default_rng(0)
    photo = (rng.random((20, 30, 3)) * 255).astype(np.uint8)
    photo[0, 0] = (250, 5, 5)  # a reddish pixel of the photo itself is no stroke
    fg, bg = np.zeros((20, 30), bool), np.zeros((20, 30), bool)
    fg[5:8, 3:20], bg[15:17, 1:29] = True, True
    image, masks = app.strokes(_editor(photo, {"fg": fg, "bg": bg}))
    assert np.array_equal(masks["fg"], fg) and np.array_equal(masks["bg"], bg) and not masks["mg"].any()
    assert image.shape == (20, 30, 3) and np.allclose(image * 255, photo, atol=0.5)


def test_a_samples_strokes_are_its_hints_and_the_photo_comes_back_without_them():
    value, sample = app.sample_editor("horse on brick (two layers)")
    image, masks = app.strokes(value, sample)
    assert masks["fg"].sum() > 500 and masks["bg"].sum() > 500 and not (masks["fg"] & masks["bg"]).any()
    assert np.array_equal((image * 255).round().astype(np.uint8), sample[1])  # the photo, no strokes on it


def test_no_image_is_a_message_not_a_traceback():
    from utils.errors import UserError
    with pytest.raises(UserError, match="load an image"):
        app.strokes(None)


def test_the_pages_controls_start_at_the_scripts_constants():
    """No default lives twice: the page reads the scripts' settings (iterations, layers, method, nets on)."""
    import dehazing_system
    import segmentation
    seg, haze = app.defaults("segmentation"), app.defaults("dehazing_system")
    assert (seg["step1_iters"], seg["layers"], seg["method"], seg["dip"]) == \
        (segmentation.STEP1_ITERS, segmentation.LAYERS, segmentation.METHOD, segmentation.DIP)
    assert (haze["iters"], haze["stages"], haze["dip"]) == (dehazing_system.ITERS, dehazing_system.STAGES,
                                                           dehazing_system.DIP)
    source = (app.ROOT / "app.py").read_text()
    assert 'value=seg["step1_iters"]' in source and 'value=haze["iters"]' in source


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Page:
    """The page served on a free port and a headless Chromium driven as a user would (clicks, strokes on the
    canvas, typing, file uploads). A step that waits in vain saves a screenshot under output/browser/."""

    def __init__(self, driver, url: str, name: str):
        self.d, self.url, self.name = driver, url, name

    def shot(self, tag: str) -> Path:
        out = app.ROOT / "output" / "browser"
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{self.name}_{tag}.png"
        self.d.save_screenshot(str(path))
        return path

    def wait_for(self, find, seconds: float = 120, what: str = "it"):
        end = time.time() + seconds
        while time.time() < end:
            try:
                found = find()
            except Exception:  # an element replaced while it was read: look again
                found = None
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"waited {seconds:.0f} s for {what}; screenshot {self.shot('timeout')}")

    def css(self, selector: str) -> list:
        from selenium.webdriver.common.by import By
        return self.d.find_elements(By.CSS_SELECTOR, selector)

    def text(self, selector: str) -> str:
        found = self.css(f"{selector} textarea") or self.css(f"{selector} input")
        return (found[0].get_attribute("value") or "") if found else ""

    def type(self, selector: str, value: str) -> None:
        from selenium.webdriver.common.keys import Keys
        field = self.wait_for(lambda: self.css(selector), 30, selector)[0]
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(Keys.DELETE)
        field.send_keys(value)
        field.send_keys(Keys.TAB)

    def pick(self, selector: str, option: str) -> None:
        self.wait_for(lambda: self.css(f"{selector} input"), 30, selector)[0].click()
        self.wait_for(lambda: [o for o in self.css("[role=option]") if option in o.text], 30, option)[0].click()

    def choose(self, selector: str, label: str) -> None:
        from selenium.webdriver.common.by import By
        self.wait_for(lambda: self.d.find_elements(By.XPATH, f"//*[@id='{selector}']//label[normalize-space()="
                                                             f"'{label}']"), 30, label)[0].click()

    def sample(self, name: str) -> None:
        """Pick a bundled sample and wait until it is on the canvas."""
        self.pick("#sample", name)
        self.wait_for(lambda: self.css("#editor canvas"), 30, "the sample on the canvas")
        time.sleep(1)

    def tab(self, name: str) -> None:
        self.wait_for(lambda: [b for b in self.css("button[role=tab]") if b.text.strip() == name and b.is_displayed()],
                      30, f"the {name} tab")[0].click()

    def upload(self, selector: str, path: Path) -> None:
        self.wait_for(lambda: self.css(f"{selector} input[type=file]"), 30, selector)[0].send_keys(str(path))

    def stroke(self, dx: int, dy: int, length: int = 60) -> None:
        """A stroke across the editor's canvas, from (dx, dy) off its centre, with the brush."""
        from selenium.webdriver.common.action_chains import ActionChains
        self.wait_for(lambda: self.css("#editor button[aria-label=Brush]"), 30, "the brush")[0].click()
        canvas = self.wait_for(lambda: self.css("#editor canvas"), 30, "the canvas")[-1]
        ActionChains(self.d).move_to_element_with_offset(canvas, dx, dy).click_and_hold() \
            .move_by_offset(length // 2, 0).move_by_offset(length // 2, 0).release().perform()

    def pixels(self, selector: str) -> np.ndarray:
        """What the user sees of an element: its screenshot as RGB."""
        import io as _io

        from PIL import Image
        element = self.wait_for(lambda: self.css(selector), 30, selector)[0]
        return np.asarray(Image.open(_io.BytesIO(element.screenshot_as_png)).convert("RGB"))

    def run_and_watch(self, button: str, status: str, seconds: float = 300) -> list[str]:
        """Click Run and read the status line until the run is done: every line seen, in order."""
        self.wait_for(lambda: self.css(button), 30, button)[0].click()
        seen: list[str] = []
        end = time.time() + seconds
        while time.time() < end:
            line = self.text(status)
            if line and (not seen or line != seen[-1]):
                seen.append(line)
            if line.startswith("done in"):
                return seen
            time.sleep(0.1)
        raise AssertionError(f"no result in {seconds:.0f} s (seen {seen}); screenshot {self.shot('timeout')}")


@pytest.fixture(scope="module")
def served():
    """The page, served once for the module's browser tests, and a Chromium (as root: no sandbox; no
    background networking, which this machine's closed network refuses)."""
    needs("gradio", "selenium")
    import os
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        message = "needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    port = _free_port()
    page = app.build().queue()
    page.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    options = Options()
    options.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
              "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run",
              "--disable-sync"):
        options.add_argument(a)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        yield driver, f"http://127.0.0.1:{port}/"
    finally:
        driver.quit()
        page.close()


@pytest.fixture
def browser(served, request, monkeypatch, tmp_path):
    """A fresh load of the page for one test (its runs go to tmp_path/output); a failing test's screenshot
    goes to output/browser/."""
    monkeypatch.setattr(app, "DEVICE", "cpu")
    monkeypatch.setattr(app, "PREVIEW_SECONDS", 0.2)
    monkeypatch.chdir(tmp_path)
    driver, url = served
    page = Page(driver, url, request.node.name)
    driver.get(url)
    page.wait_for(lambda: page.css("#run"), 60, "the page")
    yield page
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        page.shot("failed")


@pytest.mark.browser
def test_two_layers_from_strokes_show_progress_then_the_mask_overlay_and_download(browser):
    p = browser
    p.sample("horse")
    p.stroke(-30, -10)  # one more red stroke on the horse
    p.type("#iters input[type=number]", "40")
    seen = p.run_and_watch("#run", "#status")
    running = [s for s in seen if s.startswith("running: ")]
    assert running and any("iteration" in s and "of 40" in s for s in running), seen
    assert any(s.startswith("finishing: ") and "cut" in s for s in seen), seen  # a word of what runs after the nets
    assert p.css("#overlay img") and p.css("#mask img")
    download = p.wait_for(lambda: p.css("#download a") and "".join(p.css("#download")[0].text.split()), 30,
                          "the download")
    assert "mask.png" in download and ".zip" in download, download
    mask = p.pixels("#mask img")
    assert (mask.mean(axis=2) > 200).mean() > 0.2 and (mask.mean(axis=2) < 50).mean() > 0.2  # white object, black rest


@pytest.mark.browser
def test_a_typed_box_is_drawn_on_the_uploaded_photo_and_runs(browser, tmp_path):
    p = browser
    p.upload("#upload", app.ROOT / "images" / "coffee.png")
    p.wait_for(lambda: p.css("#editor canvas"), 30, "the photo on the canvas")
    time.sleep(1)
    before = p.pixels("#editor")
    p.type("#box textarea", "0.25,0.15,0.75,0.85")
    yellow = p.wait_for(lambda: (lambda px: int(((px[:, :, 0] > 230) & (px[:, :, 1] > 190) & (px[:, :, 1] < 240)
                                                  & (px[:, :, 2] < 60)).sum()))(p.pixels("#editor")) > 300,
                        30, "the box drawn on the photo")
    assert yellow and not ((before[:, :, 0] > 230) & (before[:, :, 1] > 190) & (before[:, :, 2] < 60)).sum() > 300
    p.type("#iters input[type=number]", "10")
    seen = p.run_and_watch("#run", "#status")
    assert seen[-1].startswith("done in") and p.css("#overlay img")
    import json
    run = Path(seen[-1].split("run folder ")[1])
    assert json.loads((run / "results.json").read_text())["input"].startswith("coffee.png")
    assert json.loads((run / "results.json").read_text())["box"] is not None


@pytest.mark.browser
def test_three_layers_with_the_green_brush_give_a_three_grey_mask_and_the_label_map(browser):
    from selenium.webdriver.common.by import By
    p = browser
    p.sample("three regions")
    p.choose("layers", "3")
    p.wait_for(lambda: p.css("#editor button[aria-label=Color]"), 30, "the colours")[0].click()
    green = p.wait_for(lambda: [b for b in p.d.find_elements(By.CSS_SELECTOR, "#editor button")
                                if "0, 200, 0" in (b.get_attribute("style") or "")
                                or "0, 200, 0" in (b.get_attribute("aria-label") or "")], 30, "the green swatch")
    green[0].click()
    p.stroke(-20, 0, 40)  # a green stroke
    p.type("#iters input[type=number]", "10")
    seen = p.run_and_watch("#run", "#status")
    assert any("vs" in s for s in seen if s.startswith("running: ")), seen  # the three pairwise runs
    assert "labels.png" in p.wait_for(lambda: p.css("#download a") and "".join(p.css("#download")[0].text.split()),
                                      30, "the download")
    grey = p.pixels("#mask img").mean(axis=2)
    levels = {int(v) for v in np.unique(np.round(grey / 64))}  # black, grey and white all shown
    assert {0, 2, 4} <= levels, levels


@pytest.mark.browser
def test_dehazing_in_three_stages_counts_them_from_one_and_shows_each(browser):
    p = browser
    p.tab("Dehazing")
    p.choose("stages", "3")
    p.type("#d_iters input[type=number]", "10")
    seen = p.run_and_watch("#dehaze", "#d_status")
    stages = [s for s in seen if "stage" in s]
    assert stages and all(" of 3" in s for s in stages) and not any("stage 0" in s for s in seen), seen
    captions = p.wait_for(lambda: [c.text for c in p.css("#stage_gallery .caption-label, #stage_gallery figcaption")
                                   if c.text], 30, "the stages' results")
    assert captions == ["stage 1 of 3", "stage 2 of 3", "stage 3 of 3"], captions
    assert p.css("#compare img") and p.css("#d_download a")


@pytest.mark.browser
def test_a_bad_upload_says_what_is_wrong_in_one_line_without_temporary_paths(browser, tmp_path):
    from PIL import Image
    p = browser
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "tiny.png")
    (tmp_path / "notes.png").write_text("not an image at all")
    for upload, name, message in (("#upload", "tiny.png", "tiny.png is too small (2x2)"),
                                  ("#upload", "notes.png", "notes.png is not an image file"),
                                  ("#d_upload", "notes.png", "notes.png is not an image file")):
        if upload == "#d_upload":
            p.tab("Dehazing")
        p.upload(upload, tmp_path / name)
        # the toast's text, read in one go (a toast can be replaced between finding it and reading it)
        shown = p.wait_for(lambda m=message: next((t for t in (e.get_attribute("textContent") or "" for e in
                                                                p.css("[data-testid=toast-text]")) if m in t), ""),
                           30, message)
        assert "/tmp" not in shown and "page_" not in shown and "Traceback" not in shown, shown
        for close in p.css(".toast-close"):
            with contextlib.suppress(Exception):  # (a toast that closed by itself meanwhile)
                close.click()
        p.wait_for(lambda u=upload: p.css(f"{u} input[type=file]"), 30, "the upload emptied for the next file")


def test_dehazing_tab_shows_its_stages_counted_from_one_and_returns_before_after_and_transmission(tmp_path,
                                                                                                 monkeypatch):
    needs("gradio")
    from utils.image_io import load_image, to_uint8
    monkeypatch.setattr(app, "DEVICE", "cpu")
    monkeypatch.setattr(app, "PREVIEW_SECONDS", 0.05)
    monkeypatch.chdir(tmp_path)
    hazy = to_uint8(load_image(app.ROOT / app.HAZY_SAMPLE))
    *live, final = list(app.dehaze((hazy, "hazy.png"), 2, 20))
    (before, after), transmission, stages, zipped, status = final
    assert before.shape == after.shape == hazy.shape and transmission.shape[:2] == hazy.shape[:2]
    assert [caption for _, caption in stages] == ["stage 1 of 2", "stage 2 of 2"]
    assert status.startswith("done in") and zipped.endswith(".zip")
    lines = [u[-1] for u in live]
    assert any(line.startswith("running: stage 1 of 2") for line in lines), lines
    import json
    run = Path(status.split("run folder ")[1])
    assert json.loads((run / "results.json").read_text())["input"].startswith("hazy.png")


def test_a_run_shows_its_current_mask_while_it_runs_then_the_results(tmp_path, monkeypatch):
    needs("gradio")
    monkeypatch.setattr(app, "DEVICE", "cpu")
    monkeypatch.setattr(app, "PREVIEW_SECONDS", 0.05)
    monkeypatch.chdir(tmp_path)
    value, sample = app.sample_editor("horse on brick (two layers)")
    updates = list(app.segment(value, sample, 2, "system", "", 40))
    live, final = updates[:-1], updates[-1]
    masks = [u[1] for u in live if isinstance(u[1], np.ndarray)]
    assert masks, "no current mask was shown while the run went on"
    assert all(m.ndim == 2 and m.min() >= 0 and m.max() <= 1 for m in masks)
    lines = [u[-1] for u in live]
    assert any(line.startswith("running: ") and "of 40" in line for line in lines), lines
    overlay, mask, figure, gallery, files, status = final
    assert overlay.shape[:2] == mask.shape[:2] == sample[1].shape[:2]
    assert status.startswith("done in") and files[0].endswith(".zip") and files[1].endswith("mask.png") and gallery


def test_three_layers_on_the_page_show_and_offer_the_label_map(tmp_path, monkeypatch):
    """The three-regions sample's red, green and blue strokes: the label map shown as a mask is (the object white,
    the middle ground grey, the background black), labels.png (0, 1, 2) offered."""
    needs("gradio")
    from utils.image_io import load_image
    monkeypatch.setattr(app, "DEVICE", "cpu")
    monkeypatch.chdir(tmp_path)
    value, sample = app.sample_editor("three regions (three layers)")
    assert app.strokes(value, sample)[1]["mg"].any()
    *_, final = app.segment(value, sample, 3, "multi", "", 10)
    overlay, mask, figure, gallery, files, status = final
    assert status.startswith("done in") and files[1].endswith("labels.png") and len(gallery) == 3
    labels = np.rint(load_image(files[1])[:, :, 0] * 255)
    assert set(np.unique(labels)) <= {0, 1, 2} and len(np.unique(labels)) == 3
    assert np.allclose(mask, labels / 2)  # one rule with two layers: the object white, mg grey, bg black
