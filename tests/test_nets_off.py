"""--dip=false, the control arm of every benchmark: the same pipeline with no net built or trained, recorded
in results.json; a run scored against a truth reports the nets-off score beside its own; and the band
prior, which both arms share, placed where the photo puts the edge."""
import cv2
import numpy as np
import pytest
from helpers import results, run_cli, run_script

import net.skip
from classical.hints import band_costs, band_edge, band_prior, placed_band


@pytest.fixture
def no_net_may_be_built(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a net was built with --dip=false")
    for module in ("net.segment", "net.dehaze"):
        monkeypatch.setattr(f"{module}.skip", refuse)
    monkeypatch.setattr(net.skip, "skip", refuse)


@pytest.mark.parametrize("layers", [2, 3])
def test_segmentation_with_nets_off_builds_no_net_and_says_so(tiny_files, tmp_path, no_net_may_be_built, layers):
    args = [f"--input={tiny_files / 'img.png'}", f"--fg_hint={tiny_files / 'fg.png'}", "--dip=false",
            f"--bg_hint={tiny_files / 'bg.png'}", f"--truth={tiny_files / 'truth.png'}", f"--output_dir={tmp_path}",
            "--progress=false"]
    if layers == 3:  # three layers from the same image: the bg hint split in two
        args = [a for a in args if not a.startswith(("--fg_hint", "--bg_hint", "--truth"))] + ["--layers=3",
                "--method=multi", "--hints=histogram", "--truth="]
    r = results(run_script("segmentation", args))
    assert r["config"]["dip"] is False and r["steps"] == {}
    if layers == 2:
        assert r["iou_fg"] > r["iou_fg_hint_only"] and "iou_fg_nets_off" not in r  # nothing to compare with


def test_dehazing_with_nets_off_builds_no_net_and_inverts_the_haze_model_with_the_priors_t(tmp_path,
                                                                                          no_net_may_be_built):
    """The written result is J = (I - (1 - t) A) / t with the written t and airlight, and that t is the dark
    channel prior's at the run's omega (a t that leaves half the haze, or a J not inverted from it, fails)."""
    from classical.haze import dcp_transmission
    from utils.image_io import load_grey, load_image, resize, save_image, working_shape
    from utils.synthetic import hazy_motorcycle
    save_image(tmp_path / "hazy.png", hazy_motorcycle(beta=0.3, scale=0.2)[0])
    run = run_script("dehazing_system", [f"--input={tmp_path / 'hazy.png'}", "--gt=", "--dip=false",
                                         f"--output_dir={tmp_path}", "--progress=false"])
    r = results(run)
    assert r["config"]["dip"] is False and r["iterations_used"] == [0] and r["stages"][0]["stopped"] == "no nets"
    image, t, a = load_image(tmp_path / "hazy.png"), load_grey(run / "transmission.png"), np.asarray(r["airlight"])
    inverted = np.clip((image - (1 - t[:, :, None]) * a) / t[:, :, None], 0, 1)
    assert np.abs(load_image(run / "dehazed.png") - inverted).mean() < 0.01  # (t is written in 8 bits)
    work = working_shape(image.shape[:2], r["config"]["max_side"])
    prior = resize(dcp_transmission(resize(image, work), a, r["omega"]), image.shape[:2])
    assert np.abs(np.clip(prior, r["config"]["t_min"], 1) - t).mean() < 0.03
    assert (1 - t).mean() > 0.3  # the haze found: this photo's is dense (a few % would make the checks above idle)


def test_a_scored_run_prints_and_records_the_nets_off_score_beside_its_own(tiny_files, tmp_path):
    code, out, _ = run_cli("segmentation", [f"--input={tiny_files / 'img.png'}", f"--fg_hint={tiny_files / 'fg.png'}",
                                            f"--bg_hint={tiny_files / 'bg.png'}", f"--truth={tiny_files / 'truth.png'}",
                                            f"--output_dir={tmp_path}", "--step1_iters=10", "--progress=false"])
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("foreground IoU"))
    r = results(tmp_path / out.strip().splitlines()[-1].split("/")[-1])
    assert f"(nets off {r['iou_fg_nets_off']:.3f}, hints alone {r['iou_fg_hint_only']:.3f})" in line
    code, out, _ = run_cli("dehazing_system", [f"--input={tiny_files / 'hazy.png'}", f"--gt={tiny_files / 'img.png'}",
                                               f"--output_dir={tmp_path}", "--iters=5", "--progress=false"])
    assert code == 0 and any(x.startswith("dehazed: PSNR") and "(nets off " in x and "hazy input" in x
                             for x in out.splitlines())


def _band(edge_at: float, width: int = 16) -> tuple[np.ndarray, ...]:
    """A disc object with sure hints `width` px apart across its edge, and a labelling whose edge lies
    `edge_at` of the way from the foreground hint to the background hint."""
    h = w = 200
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - 100, xx - 100)
    sure_fg, sure_bg = r < 40, r > 40 + width
    labels = r < 40 + edge_at * width
    return labels, sure_fg, sure_bg


def test_the_band_prior_follows_an_off_centre_edge_and_keeps_a_centred_one_at_full_weight():
    for edge_at, centre in ((0.15, 0.15), (0.45, 0.5), (0.85, 0.85)):
        labels, fg, bg = _band(edge_at)
        to_fg, band = band_prior(fg, bg)
        found = band_edge(labels, to_fg, band, fg | bg)
        c, weight = placed_band(found, 30.0)
        assert c == pytest.approx(centre, abs=0.07) and weight == 30.0  # even edge (1 px = 0.06): a sure prior
    to_fg, band = band_prior(*_band(0.5)[1:])
    assert placed_band(None, 30.0) == (0.5, 0.0)  # no edge in the band: no prior
    fg_cost, bg_cost = band_costs(to_fg, band, 0.15, 10.0)
    inside, outside = (to_fg < 0.15) & (band > 0), (to_fg > 0.15) & (band > 0)
    assert (fg_cost[inside] <= bg_cost[inside]).all() and (fg_cost[outside] >= bg_cost[outside]).all()
    near_bg = (to_fg > 0.9) & (band == 1)
    assert (fg_cost - bg_cost)[near_bg].min() > 0.85 * 10.0  # nearly the full weight by the background hint


def test_an_uneven_edge_across_the_band_weakens_its_prior():
    labels, fg, bg = _band(0.15)
    wobble = cv2.dilate(labels.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    labels = np.where(np.arange(200)[None, :] > 100, wobble, labels)  # half the edge runs further out
    to_fg, band = band_prior(fg, bg)
    c, weight = placed_band(band_edge(labels, to_fg, band, fg | bg), 30.0)
    assert c < 0.35 and weight < 30.0
