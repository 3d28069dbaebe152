"""The local web page (app.py): strokes read from the editor, and (marked `browser`) a real headless Chromium
that loads the page, picks a sample, draws a stroke, runs a tiny segmentation, sees its current mask while
it runs and then the result. The
browser test needs `pip install -r requirements-app.txt selenium` and Debian's chromium + chromium-driver:

    python -m pytest -m browser tests/test_app.py
"""
import shutil
import socket
import time

import numpy as np
import pytest

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


def needs_gradio() -> None:
    """Skip without Gradio (a version is asked for: the leftover folder of an uninstalled Gradio imports too)."""
    pytest.importorskip("gradio", minversion="4.0")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.browser
def test_page_in_headless_chromium_draws_a_stroke_runs_and_shows_the_result(tmp_path, monkeypatch):
    needs_gradio()
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("needs Debian's chromium and chromium-driver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    monkeypatch.setattr(app, "DEVICE", "cpu")
    monkeypatch.chdir(tmp_path)  # the page's run folders go to tmp_path/output
    port = _free_port()
    page = app.build().queue()
    page.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    options = Options()
    options.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1800"):
        options.add_argument(a)
    d = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)

    def wait_for(find, seconds: float = 120):
        end = time.time() + seconds
        while time.time() < end:
            found = find()
            if found:
                return found
            time.sleep(0.5)
        d.save_screenshot(str(tmp_path / "timeout.png"))
        raise AssertionError(f"timed out; screenshot {tmp_path / 'timeout.png'}")

    try:
        d.get(f"http://127.0.0.1:{port}/")
        wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "#sample input"))[0].click()
        wait_for(lambda: [o for o in d.find_elements(By.CSS_SELECTOR, "[role=option]") if "horse" in o.text])[0].click()
        wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "#editor button[aria-label=Brush]"))[0].click()
        time.sleep(2)  # the sample is on the canvas
        canvas = d.find_elements(By.CSS_SELECTOR, "#editor canvas")[-1]
        ActionChains(d).move_to_element_with_offset(canvas, -40, -20).click_and_hold().move_by_offset(30, 0) \
            .move_by_offset(30, 0).release().perform()
        iterations = d.find_element(By.CSS_SELECTOR, "input[type=number]")
        iterations.clear()
        iterations.send_keys("10")
        d.find_element(By.CSS_SELECTOR, "#run").click()

        def status_text() -> str:
            return d.find_element(By.CSS_SELECTOR, "#status textarea").get_attribute("value") or ""
        wait_for(lambda: status_text().startswith("running: ") and d.find_elements(By.CSS_SELECTOR, "#mask img"))
        d.save_screenshot(str(tmp_path / "running.png"))  # the current mask while the run goes on
        wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "#overlay img"))
        wait_for(lambda: status_text().startswith("done in"), 30)
        d.save_screenshot(str(tmp_path / "page.png"))
        # one kind of stroke only: a visible message on the page, no result
        d.find_element(By.CSS_SELECTOR, "#editor button[aria-label='Clear canvas']").click()
        time.sleep(1)
        d.find_element(By.CSS_SELECTOR, "#run").click()
        wait_for(lambda: "load an image first" in d.page_source or "draw both kinds" in d.page_source, 60)
    finally:
        d.quit()
        page.close()


def test_dehazing_tab_returns_before_after_and_transmission(tmp_path, monkeypatch):
    needs_gradio()
    from utils.image_io import load_image, to_uint8
    monkeypatch.setattr(app, "DEVICE", "cpu")
    monkeypatch.chdir(tmp_path)
    hazy = to_uint8(load_image(app.ROOT / app.HAZY_SAMPLE))
    (before, after), transmission, zipped, status = app.dehaze(hazy, 1, 2)
    assert before.shape == after.shape == hazy.shape and transmission.shape[:2] == hazy.shape[:2]
    assert status.startswith("done in") and zipped.endswith(".zip")


def test_a_run_shows_its_current_mask_while_it_runs_then_the_results(tmp_path, monkeypatch):
    needs_gradio()
    monkeypatch.setattr(app, "DEVICE", "cpu")
    monkeypatch.setattr(app, "PREVIEW_SECONDS", 0.05)
    monkeypatch.chdir(tmp_path)
    value, sample = app.sample_editor("horse on brick (two layers)")
    updates = list(app.segment(value, sample, 2, "system", "", 40))
    live, final = updates[:-1], updates[-1]
    assert live, "no current mask was shown while the run went on"
    for _, mask, *_, status in live:
        assert mask.ndim == 2 and mask.min() >= 0 and mask.max() <= 1 and status.startswith("running: ")
    overlay, mask, figure, gallery, files, status = final
    assert overlay.shape[:2] == mask.shape[:2] == sample[1].shape[:2]
    assert status.startswith("done in") and files[0].endswith(".zip") and files[1].endswith("mask.png") and gallery


def test_three_layers_on_the_page_show_and_offer_the_label_map(tmp_path, monkeypatch):
    """The three-regions sample's red, green and blue strokes: labels_vis shown, labels.png (0, 1, 2) offered."""
    needs_gradio()
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
    assert len(np.unique(np.round(mask, 2))) == 3  # three greys: fg black, mg grey, bg white
