"""Experimental images in: real TIFF files, bad inputs rejected with one line, resampling, tiles."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import tifffile

from stemgan.config import IngestConfig, NormalizeConfig
from stemgan.data.ingest import load_working_image, rescale_labels
from stemgan.data.normalize import normalize_image
from stemgan.data.tiff_io import read_tiff, write_tiff
from stemgan.data.tiles import cut_tiles, load_tiles
from tests.conftest import run_cli, tiny_params, write_params

PIXEL_A = 0.2074


def lattice_image(size: int, pixel_A: float, spacing_A: float = 3.0, sigma_A: float = 0.5) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] * pixel_A
    return (np.cos(2 * np.pi * x / spacing_A) + np.cos(2 * np.pi * y / spacing_A) + 3.0).astype(np.float32) * 100


def tile_cli(folder, out, params_file):
    return run_cli("tile", "--images", folder, "--out", out, "--params", params_file, check=False)


def assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith("stemgan: error: ")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in message, message


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "images"
    path.mkdir()
    return path


@pytest.mark.parametrize(
    "case, needles",
    [
        ("corrupt", ["not a readable TIFF", "re-export"]),
        ("rgb", ["RGB", "single-channel"]),
        ("stack", ["3-D", "one 2-D frame"]),
        ("nan", ["NaN/Inf", "fix or crop"]),
        ("small", ["smaller than one 64 px tile", "tile_size_px"]),
        ("no_pixel_size", ["no pixel size", "sidecar"]),
    ],
)
def test_bad_images_give_one_line_and_no_output(case, needles, folder, tmp_path, tiny_params_file):
    bad = folder / f"{case}.tif"
    if case == "corrupt":
        bad.write_bytes(b"II*\x00" + b"\x17" * 200)
    elif case == "rgb":
        tifffile.imwrite(bad, np.zeros((96, 96, 3), np.uint8), photometric="rgb")
    elif case == "stack":
        write_tiff(bad, np.zeros((3, 96, 96), np.float32), PIXEL_A)
    elif case == "nan":
        image = lattice_image(96, PIXEL_A)
        image[5, 7] = np.nan
        write_tiff(bad, image, PIXEL_A)
    elif case == "small":
        write_tiff(bad, lattice_image(40, PIXEL_A), PIXEL_A)
    elif case == "no_pixel_size":
        tifffile.imwrite(bad, lattice_image(96, PIXEL_A))
    write_tiff(folder / "good.tif", lattice_image(96, PIXEL_A), PIXEL_A)
    out = tmp_path / "tiles"
    proc = tile_cli(folder, out, tiny_params_file)
    assert_one_line_error(proc, str(bad), *needles)
    assert not out.exists() and not list(tmp_path.glob(".tiles*"))  # nothing half-written


def test_sidecar_supplies_missing_pixel_size(folder, tmp_path, tiny_params_file):
    tifffile.imwrite(folder / "a.tif", lattice_image(128, PIXEL_A))
    (folder / "a.json").write_text(json.dumps({"pixel_size_A": PIXEL_A}))
    proc = tile_cli(folder, tmp_path / "tiles", tiny_params_file)
    assert proc.returncode == 0, proc.stderr
    assert load_tiles(tmp_path / "tiles").shape == (4, 64, 64)


def test_empty_folder_and_wrong_params(folder, tmp_path, tiny_params_file):
    assert_one_line_error(tile_cli(folder, tmp_path / "t", tiny_params_file), str(folder), "no .tif")
    params = tiny_params()
    params["tile"]["tile_sise_px"] = params["tile"].pop("tile_size_px")
    bad_params = write_params(tmp_path / "bad.yaml", params)
    write_tiff(folder / "a.tif", lattice_image(128, PIXEL_A), PIXEL_A)
    assert_one_line_error(tile_cli(folder, tmp_path / "t", bad_params), "tile_sise_px", "allowed")
    params = tiny_params()
    params["tile"]["stride_px"] = "wide"
    assert_one_line_error(
        tile_cli(folder, tmp_path / "t", write_params(tmp_path / "bad2.yaml", params)), "tile.stride_px", "whole number"
    )


def test_imagej_tiff_in_nm_is_read_and_resampled(tmp_path):
    """An ImageJ TIFF at 0.1037 Å/px (given in nm) is resampled to the working 0.2074 Å/px, and a
    label moves with the image: a bright spot stays under its label."""
    size, fine = 256, PIXEL_A / 2
    y, x = np.mgrid[0:size, 0:size]
    spot = np.array([100.3, 140.7])  # (x, y) px in the fine image
    image = np.exp(-((x - spot[0]) ** 2 + (y - spot[1]) ** 2) / (2 * 6.0**2)).astype(np.float32)
    path = tmp_path / "fine.tif"
    tifffile.imwrite(path, image, imagej=True, resolution=(1 / (fine / 10), 1 / (fine / 10)), metadata={"unit": "nm"})
    _, pixel, _ = read_tiff(path)
    assert pixel == pytest.approx(fine, rel=1e-4)
    working = load_working_image(path, IngestConfig(working_pixel_size_A=PIXEL_A))
    assert working.image.shape == (128, 128) and working.scale == pytest.approx(0.5)
    labels = rescale_labels(pd.DataFrame({"x_px": [spot[0]], "y_px": [spot[1]]}), working.scale, PIXEL_A)
    yy, xx = np.mgrid[0:128, 0:128]
    w = working.image.astype(np.float64)
    centroid = np.array([(xx * w).sum() / w.sum(), (yy * w).sum() / w.sum()])
    assert np.hypot(*(centroid - labels[["x_px", "y_px"]].to_numpy()[0])) < 0.05


def test_malformed_label_csv(tmp_path):
    from stemgan.data.labels_io import read_labels
    from stemgan.errors import StemganError

    bad = tmp_path / "labels.csv"
    bad.write_text("col_a,col_b\n1,2\n")
    with pytest.raises(StemganError, match="needs x_px and y_px"):
        read_labels(bad)
    bad.write_text("x_px,y_px\n1,2\nthree,4\n")
    with pytest.raises(StemganError, match="1 row"):
        read_labels(bad)
    bad.write_text("x_A,y_A\n2.074,4.148\n")
    assert read_labels(bad, pixel_size_A=PIXEL_A)[["x_px", "y_px"]].to_numpy().tolist() == [[10.0, 20.0]]


def test_normalisation_is_robust_to_outliers():
    rng = np.random.default_rng(0)
    image = lattice_image(128, PIXEL_A) + rng.normal(0, 5, (128, 128)).astype(np.float32)
    hot = image.copy()
    hot[3, 3] = 1e6  # one hot pixel
    robust = NormalizeConfig(method="percentile", low_percentile=0.5, high_percentile=99.5)
    paper = NormalizeConfig(method="minmax")
    assert normalize_image(image, robust).min() == -1 and normalize_image(image, robust).max() == 1
    assert np.abs(normalize_image(hot, robust) - normalize_image(image, robust)).mean() < 0.01
    assert normalize_image(hot, paper).std() < 0.1 * normalize_image(image, paper).std()  # min-max collapses


def test_tiles_cover_the_whole_image():
    image = np.arange(100 * 90, dtype=np.float32).reshape(100, 90)
    tiles, origins = cut_tiles(image, 32, 32)
    assert origins[:, 0].max() == 100 - 32 and origins[:, 1].max() == 90 - 32  # flush with the far edges
    covered = np.zeros_like(image, bool)
    for (r, c), tile in zip(origins, tiles):  # a handful of tiles
        assert np.array_equal(tile, image[r : r + 32, c : c + 32])
        covered[r : r + 32, c : c + 32] = True
    assert covered.all()


def test_labelled_folder_is_loaded_once_per_setting_and_shared_read_only(tmp_path):
    """table1_cells and diagnose score one folder with many FCNs: it is read once per normalisation, and what the
    units share cannot be appended to."""
    from stemgan.data.labelled import load_labelled, load_labelled_once

    folder = tmp_path / "val"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    write_tiff(folder / "images" / "a.tif", lattice_image(128, PIXEL_A), PIXEL_A)
    (folder / "labels" / "a.csv").write_text("x_px,y_px,kind\n40.0,50.0,se_vacancy\n")
    ingest, percentile = IngestConfig(working_pixel_size_A=PIXEL_A), NormalizeConfig()
    first = load_labelled_once(folder, percentile, ingest, 64)
    assert isinstance(first, tuple) and load_labelled_once(folder, percentile, ingest, 64) is first
    fresh = load_labelled(folder, percentile, ingest, 64)
    assert [i.name for i in first] == ["a"] and np.array_equal(first[0].image, fresh[0].image)
    minmax = load_labelled_once(folder, NormalizeConfig(method="minmax"), ingest, 64)
    assert minmax is not first and not np.array_equal(minmax[0].image, first[0].image)
