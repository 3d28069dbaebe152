"""benchmarks/real.py's tables, each run on two tiny made-up cases (the real data need not be here): every
column, the summary line, and the dev/test split and hints of benchmarks/realdata.py."""
import re
import sys

import cv2
import numpy as np
import pytest
from helpers import ROOT, needs

sys.path.insert(0, str(ROOT / "benchmarks"))
import real  # noqa: E402
import realdata  # noqa: E402

FAST = ["--device=cpu", "--progress=false", "--threads=1"]


def _photos(tmp_path) -> list:
    """Two 64x80 photos of a warm blob on a striped ground, with truth masks and GrabCut-style files."""
    from utils.synthetic import two_texture
    out = []
    for k in range(2):
        img, truth = two_texture((64, 80), seed=k)
        name = f"tiny{k}"
        cv2.imwrite(str(tmp_path / f"{name}.png"), cv2.cvtColor((img * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
        mask = truth.astype(np.uint8) * 255
        cv2.imwrite(str(tmp_path / f"{name}_mask.png"), mask)
        fg, bg = realdata.trimap(mask, 3, 6)
        trimap = np.full(mask.shape, 128, np.uint8)
        trimap[fg], trimap[bg] = 255, 64
        cv2.imwrite(str(tmp_path / f"{name}_trimap_lasso.png"), trimap)
        out.append(realdata.Photo("GrabCut", name, tmp_path / f"{name}.png", tmp_path / f"{name}_mask.png",
                                  realdata.box_of(mask, 0.05)))
    return out


@pytest.mark.parametrize("kind", real.HINT_KINDS)
def test_each_segmentation_table_has_every_column_and_a_summary_line(tmp_path, kind):
    rows, grid = real.seg_rows(_photos(tmp_path), kind, tmp_path, [*FAST, f"--output_dir={tmp_path / 'runs'}"],
                               [], quick=True)
    table = real.seg_table(rows, f"tiny, {kind}", kind)
    header = next(line for line in table if line.startswith("| photo"))
    for column in real.seg_columns(kind):
        assert column in header, (column, header)
    assert "**nets off**" in header and ("band middle alone" in header) == (kind in real.BANDS)
    body = [line for line in table if line.startswith("| tiny")]
    assert len(body) == 2 and all(len(re.findall(r"\d+\.\d\d / \d\.\d{3}", line)) == len(real.seg_columns(kind))
                                  for line in body)
    summary = next(line for line in table if line.startswith("- 2 photos"))
    assert "Ours has the lower error than" in summary and "nets off" in summary
    assert len(grid) == 2


def test_the_dehazing_and_no_truth_tables_have_every_column_the_haze_groups_and_the_fog_left(tmp_path):
    needs("pyfade", "pywt")  # requirements-bench.txt
    from utils.image_io import save_image
    from utils.synthetic import hazy_motorcycle
    pairs, photos = [], []
    for k, beta in enumerate((0.1, 0.3)):
        hazy, clean, _ = hazy_motorcycle(beta, (0.8, 0.8, 0.8), 0.12)
        save_image(tmp_path / f"h{k}.png", hazy)
        save_image(tmp_path / f"c{k}.png", clean)
        pairs.append(realdata.HazyPair("tiny", f"tiny {k}", str(k), tmp_path / f"h{k}.png", tmp_path / f"c{k}.png"))
        photos.append(realdata.HazyPair("no truth", f"nogt {k}", str(k), tmp_path / f"h{k}.png", None))
    common = [*FAST, f"--output_dir={tmp_path / 'runs'}"]
    rows, _ = real.dehaze_rows(pairs, tmp_path, common, [], quick=True)
    table = real.dehaze_table(rows, "tiny dehazing")
    header = next(line for line in table if line.startswith("| pair"))
    assert all(c in header for c in ("hazy input", "DCP (He et al.)", "**nets off**", "ours", "time"))
    assert sum(line.startswith("| tiny") for line in table) == 2
    assert any("The nets' share (ours - nets off)" in line for line in table)
    groups = {r["case"]: r["group"] for r in rows}
    assert all(f"### {g.capitalize()} haze" in "\n".join(table) for g in set(groups.values()))
    assert all(r["fade"] > 0 and r["clean_fade"] > 0 and r["noise"] >= 0 for r in rows)
    hazy = [r for r in rows if r["method"] == "hazy input"]
    ours = [r for r in rows if r["method"] == "ours"]
    assert all(o["fade"] < h["fade"] for o, h in zip(ours, hazy, strict=True))  # less fog left than came in
    rows, grid, crops = real.nogt_rows(photos, tmp_path, common, [], quick=True)
    table = real.nogt_table(rows, "tiny no truth")
    assert sum(line.startswith("| nogt") for line in table) == 2 and len(grid) == len(crops) == 2
    assert all(0 <= r["clipped"] <= 100 and r["cast"] >= 0 and r["fade"] > 0 for r in rows)
    assert any("DCP's fog" in line for line in table)


def test_the_split_alternates_names_and_keeps_a_photo_in_one_half_across_sets():
    assert realdata.alternate(["b", "a", "c"]) == {"a": "dev", "b": "test", "c": "dev"}
    assert realdata.alternate(["a", "b", "c"], inherit={"b": "dev"}) == {"b": "dev", "a": "dev", "c": "test"}
    if not realdata.REAL.is_dir():
        pytest.skip("the real data is not here")
    grabcut = {p.name: "dev" for p in realdata.photos("dev", ("GrabCut",))}
    grabcut.update({p.name: "test" for p in realdata.photos("test", ("GrabCut",))})
    berkeley = {p.name: "dev" for p in realdata.photos("dev", ("Berkeley",))}
    berkeley.update({p.name: "test" for p in realdata.photos("test", ("Berkeley",))})
    shared = set(grabcut) & set(berkeley)
    assert shared and all(grabcut[n] == berkeley[n] for n in shared)
    dev, test = realdata.hazy_pairs("dev"), realdata.hazy_pairs("test")
    scenes = [{p.scene for p in half if p.set == "HazeRD"} for half in (dev, test)]
    assert dev and test and scenes[0] and not scenes[0] & scenes[1]


def test_hints_made_from_a_truth_keep_to_their_sides_of_the_edge():
    truth = np.zeros((200, 300), np.uint8)
    cv2.circle(truth, (150, 100), 60, 255, -1)
    obj = truth == 255
    diag = realdata.diagonal(truth.shape)
    fg, bg = realdata.loose_trimap(truth)
    d_in = cv2.distanceTransform(obj.astype(np.uint8), cv2.DIST_L2, 5)
    d_out = cv2.distanceTransform((~obj).astype(np.uint8), cv2.DIST_L2, 5)
    assert (d_in[fg] > 0.01 * diag - 1).all() and (d_out[bg] > 0.05 * diag - 1).all()
    fg, bg = realdata.centred_trimap(truth)
    assert abs(d_in[fg].min() - d_out[bg].min()) <= 1.5  # centred: as far inside as outside
    x0, y0, x1, y1 = realdata.box_of(truth)
    assert (x0, y0) == (90 - 9, 40 - 6) and (x1, y1) == (211 + 9, 161 + 6)
    fg, bg = realdata.strokes(truth)
    assert fg.any() and bg.any() and not (fg & bg).any()
    assert obj[fg].all() and not obj[bg].any() and (fg | bg).mean() < 0.1  # a few strokes, not a trimap
    assert realdata.scores(obj, truth, ~(fg | bg)) == (0.0, 1.0)
    assert realdata.band_middle(fg, bg)[fg].all()
    fg, bg = realdata.centred_trimap(truth)
    middle = realdata.band_middle(fg, bg)
    assert middle[fg].all() and not middle[bg].any() and (middle != obj).mean() < 0.01  # centred: the edge


def test_the_grabcut_benchmarks_own_hints_are_asked_of_its_photos_only():
    # (budget.py once asked Berkeley's photos for a lasso trimap they do not have, and crashed)
    for kind in real.HINT_KINDS:
        assert real.has_hints("GrabCut", kind)
        assert real.has_hints("Berkeley", kind) == real.has_hints("COCO-MVal", kind) == (kind not in ("lasso", "gcbox"))


def test_budget_merge_adds_rows_from_runs_made_at_the_same_time_and_remeasured_ones_replace():
    import budget
    stored = [{"case": "a", "budget": "nets off", "psnr": 1.0}, {"case": "a", "budget": "50", "psnr": 2.0}]
    other = [{"case": "a", "budget": "nets off", "psnr": 1.0}, {"case": "a", "budget": "2000", "psnr": 3.0},
             {"case": "a", "budget": "50", "psnr": 2.5}]
    rows = budget.merged(stored, [other])
    assert sorted((r["budget"], r["psnr"]) for r in rows) == [("2000", 3.0), ("50", 2.5), ("nets off", 1.0)]


def test_budget_parts_share_the_cases_between_processes_without_overlap():
    import budget
    cases = list(range(7))
    parts = [budget.part(cases, f"{k}/3") for k in (1, 2, 3)]
    assert sorted(c for p in parts for c in p) == cases
    assert budget.part(cases, "") == cases


def test_three_layer_table_scores_without_the_void_and_says_which_targets_hold():
    truth = np.zeros((6, 6), np.uint8)
    truth[:, 2:4], truth[:, 4:] = 1, 2
    void = np.zeros((6, 6), bool)
    void[0] = True
    pred = truth.copy()
    pred[0] = 0  # wrong only where void: not scored
    assert real.layer_ious(pred, truth, void) == [1.0, 1.0, 1.0]
    rows = [{"case": c, "method": m, "iou": v, "layers": [v, v, v], "time": 1.0}
            for c in ("a", "b") for m, v in zip(real.THREE_COLUMNS, (0.1, 0.5, 0.6, 0.7, 0.8, 0.75, 0.9), strict=True)]
    text = "\n".join(real.three_table(rows, "tiny"))
    assert "| a | 0.100 | 0.500 | 0.600 | 0.700 | 0.800 | 0.750 | 0.900 |" in text
    assert f"ours ({real.default_three_layer()}) at least 0.03 above nets off" in text
    assert "multi 0.900, system 0.800 (the better fusion): met" in text


def test_davis_frames_split_by_video():
    assert realdata.videos(["012", "129", "132", "135", "172", "180", "309"]) == {
        "012": "012", "129": "129", "132": "129", "135": "129", "172": "172", "180": "172", "309": "309"}


def test_stage_table_groups_by_haze_and_counts_each_claim():
    import stages
    def rows(base):
        return [{"psnr": base + d, "ssim": 0.8, "iterations": 50 + 10 * k, "clipped": k, "saturated": 0.0,
                 "cast": 1.0, "time": 1.0} for k, d in enumerate((0.0, 0.5, 0.7, 0.9))]
    records = [{"pair": f"p{h}", "set": "X", "hazy_psnr": h, "hazy_ssim": 0.7, "own on": rows(15), "own off": rows(14)}
               for h in (10.0, 15.0, 20.0)]
    text = stages.table(records, "dev", "cmd", 1.0)
    assert "| dense haze | 1 |" in text and "| light haze | 1 |" in text
    assert "| own on | 3 of 3 | 3 of 3 | 3 of 3 | +0.50 |" in text
    assert "| own on | 50 | 60 | 70 | 80 | 1.20 |" in text
