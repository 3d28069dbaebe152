import numpy as np
import pytest
from PIL import Image

from utils.errors import UserError
from utils.image_io import BackgroundWriter, crop, load_grey, load_image, load_mask, pad_to_multiple, save_image


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return (rng.random((13, 17, 3)) * 255).astype(np.uint8)


def test_png_round_trip_is_lossless(tmp_path, rgb):
    save_image(tmp_path / "a.png", rgb)
    back = load_image(tmp_path / "a.png")
    assert back.dtype == np.float32 and back.shape == (13, 17, 3)
    assert np.array_equal(np.rint(back * 255).astype(np.uint8), rgb)


def test_grey_rgba_and_palette_become_rgb(tmp_path, rgb):
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "grey.png")
    g = load_image(tmp_path / "grey.png")
    assert g.shape == (13, 17, 3) and np.allclose(g[:, :, 0], g[:, :, 2])
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    assert np.allclose(load_image(tmp_path / "rgba.png"), rgb / 255.0, atol=1e-6)
    Image.fromarray(rgb).convert("P").save(tmp_path / "pal.png")
    p = load_image(tmp_path / "pal.png")
    assert p.shape == (13, 17, 3) and p.max() <= 1


def test_16_bit_grey_and_colour_keep_their_precision(tmp_path):
    import cv2
    g16 = np.arange(13 * 17, dtype=np.uint16).reshape(13, 17) * 300
    Image.fromarray(g16).save(tmp_path / "g16.png")
    g = load_image(tmp_path / "g16.png")
    assert np.allclose(g[:, :, 0], g16 / 65535.0, atol=1e-6)
    c16 = np.dstack([g16, g16 // 2, g16 // 3])
    cv2.imwrite(str(tmp_path / "c16.tif"), c16[:, :, ::-1])  # OpenCV writes BGR
    c = load_image(tmp_path / "c16.tif")
    assert np.allclose(c, c16 / 65535.0, atol=1e-6)


# how each EXIF orientation was stored, from the upright photo (each display turn's inverse), by numpy alone
_STORED = {2: np.fliplr, 3: lambda u: np.rot90(u, 2), 4: np.flipud, 5: lambda u: np.transpose(u, (1, 0, 2)),
           6: lambda u: np.rot90(u, 1), 7: lambda u: np.rot90(np.transpose(u, (1, 0, 2)), 2),
           8: lambda u: np.rot90(u, -1)}


@pytest.mark.parametrize("fmt", ["png", "jpg"])
@pytest.mark.parametrize("orientation", sorted(_STORED))
def test_exif_orientation_turns_the_stored_pixels_upright(tmp_path, fmt, orientation):
    """A photo stored turned (or mirrored), with the EXIF tag that says so, reads as the upright photo:
    against numpy's turn of it, not only its shape (a turn the wrong way keeps the shape)."""
    yy, xx = np.mgrid[0:24, 0:40]
    upright = np.dstack([xx * 6, yy * 10, np.where((yy < 8) & (xx < 12), 250, 30)]).astype(np.uint8)
    stored = np.ascontiguousarray(_STORED[orientation](upright))
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(tmp_path / f"turned.{fmt}", exif=exif.tobytes(), **({"quality": 100} if fmt == "jpg"
                                                                                     else {}))
    out = np.rint(load_image(tmp_path / f"turned.{fmt}") * 255)
    assert out.shape == upright.shape
    error = np.abs(out - upright).mean()
    assert error < (0.5 if fmt == "png" else 4.0), error  # (JPEG: lossy; a wrong turn is off by about 60)


def test_pad_and_crop_round_trip():
    x = np.random.rand(37, 50, 3)
    p = pad_to_multiple(x, 32)
    assert p.shape == (64, 64, 3)
    assert np.array_equal(crop(p, (37, 50)), x)
    tiny = np.random.rand(3, 5)
    assert pad_to_multiple(tiny, 8).shape == (16, 16)  # at least two multiples


def test_mask_of_another_size_is_resized_and_thresholded(tmp_path):
    m = np.zeros((20, 20), np.uint8)
    m[:10] = 200
    m[10:, :] = 100  # below 0.5: not part of the mask
    save_image(tmp_path / "m.png", m)
    out = load_mask(tmp_path / "m.png", (40, 30))
    assert out.shape == (40, 30) and set(np.unique(out)) == {0.0, 1.0}
    assert out[:20].all() and not out[20:].any()


def test_grey_reading_matches_the_mean_of_the_colour_reading(tmp_path, rgb):
    import cv2
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "grey.png")
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)]), "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(rgb).save(tmp_path / "rgb.jpg", quality=90)
    Image.fromarray(rgb).convert("P").save(tmp_path / "pal.png")
    cv2.imwrite(str(tmp_path / "c16.tif"), (rgb.astype(np.uint16) * 257)[:, :, ::-1])
    for name in ("grey.png", "rgb.png", "rgba.png", "rgb.jpg", "pal.png", "c16.tif"):
        grey = load_grey(tmp_path / name)
        assert grey.dtype == np.float32 and grey.shape == (13, 17)
        assert np.allclose(grey, load_image(tmp_path / name).mean(axis=2), atol=1e-6), name


def test_background_writes_have_all_landed_when_the_block_ends(tmp_path, rgb):
    with BackgroundWriter() as save:
        for k in range(5):
            save(tmp_path / f"{k}.png", rgb)
    assert all(np.array_equal(np.rint(load_image(tmp_path / f"{k}.png") * 255), rgb) for k in range(5))


def test_a_failed_background_write_is_raised_at_the_end_of_the_block(tmp_path, rgb):
    with pytest.raises(OSError), BackgroundWriter() as save:
        save(tmp_path / "missing_folder" / "a.png", rgb)


@pytest.mark.parametrize("make,msg", [
    (lambda p: None, "not found"),
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("hello, not an image"), "not an image"),
])
def test_bad_files_give_one_clear_error(tmp_path, make, msg):
    p = tmp_path / "x.png"
    make(p)
    with pytest.raises(UserError, match=msg):
        load_image(p)


def test_truncated_jpeg_is_an_error(tmp_path, rgb):
    Image.fromarray(np.tile(rgb, (8, 8, 1))).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="truncated"):
        load_image(tmp_path / "cut.jpg")


def test_guided_filter_without_opencv_contrib_matches_and_the_fast_filter_is_close(monkeypatch):
    import cv2
    import skimage.data

    from classical.guided import guided_filter, guided_upsample
    guide = cv2.resize(skimage.data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    src = (guide.mean(axis=2) > 0.5).astype(np.float32)
    contrib = guided_filter(guide, src, 8, 0.1)
    monkeypatch.delattr(cv2, "ximgproc")
    assert np.allclose(guided_filter(guide, src, 8, 0.1), contrib, atol=1e-4)
    # the fast filter: coefficients at a quarter of the size, applied at full size in strips
    small = cv2.resize(guide, (64, 64), interpolation=cv2.INTER_AREA)
    up = guided_upsample(guide, small, cv2.resize(src, (64, 64), interpolation=cv2.INTER_AREA), 2, 0.1, rows=50)
    plain = cv2.resize(cv2.resize(src, (64, 64), interpolation=cv2.INTER_AREA), (256, 256))
    assert up.shape == src.shape and np.abs(up - contrib).mean() < 0.5 * np.abs(plain - contrib).mean()
