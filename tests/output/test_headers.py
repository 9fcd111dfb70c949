"""FITS headers as written to disk and read back with astropy: every keyword, its type and its comment."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from drivers.base import CameraSettings
from drivers.clock import VirtualClock
from sequencer.core.stats import frame_stats
from sequencer.output.header import FrameHeader, build_header, software_version
from sequencer.output.keywords import FrameKind
from sequencer.output.space import HEADER_BYTES, bytes_per_frame
from sequencer.output.writer import FrameWriter

ROWS, COLS = 214, 320
START = 1_767_225_600.0  # VirtualClock's default start, 2026-01-01T00:00:00Z
SETTINGS = CameraSettings(gain=100, offset=50, binning=2, readout_mode=1, temperature=-10.0)


def flat_frame() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.normal(32000, 180, size=(ROWS, COLS)).clip(0, 65535).astype(np.uint16)


def header_for(kind: FrameKind, frame: np.ndarray, **changes: object) -> FrameHeader:
    fields: dict[str, object] = {
        "kind": kind,
        "flat_set": "03-Ha-4s",
        "run_id": "2026-01-01T000000Z",
        "frame_no": 7,
        "exposure": 4.0,
        "settings": SETTINGS,
        "readout_mode_name": "High Gain",
        "camera": "ZWO ASI6200MM Pro",
        "date_obs": START + 12.3456,
        "date_end": START + 16.3456,
        "ccd_temp": -9.8,
        "filter": "Ha",
        "panel_brightness": 118 if kind is FrameKind.FLAT else None,
        "panel_max": 255 if kind is FrameKind.FLAT else None,
        "stats": frame_stats(frame),
        "pixel_size_um": 3.76,
        "telescope": "RedCat 51",
        "origin": "backyard",
    }
    fields.update(changes)
    return FrameHeader(**fields)  # type: ignore[arg-type]


def write_and_read(tmp_path: Path, frame: np.ndarray, header: FrameHeader, name: str) -> fits.Header:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no astropy VerifyWarning (truncated comments, bad values)
        with FrameWriter(tmp_path, clock=VirtualClock()) as writer:
            path = writer.submit(frame, header, name).result()
        with fits.open(path) as hdul:
            hdul.verify("exception")
            return hdul[0].header.copy()


def test_flat_header_every_keyword_value_and_type(tmp_path: Path) -> None:
    frame = flat_frame()
    stats = frame_stats(frame)
    h = write_and_read(tmp_path, frame, header_for(FrameKind.FLAT, frame), "flat.fits")
    expected: dict[str, tuple[type, object]] = {
        "IMAGETYP": (str, "FLAT"),
        "DARKFLAT": (bool, False),
        "FLATSET": (str, "03-Ha-4s"),
        "RUNID": (str, "2026-01-01T000000Z"),
        "FRAMENO": (int, 7),
        "DATE-OBS": (str, "2026-01-01T00:00:12.345"),
        "DATE-END": (str, "2026-01-01T00:00:16.345"),
        "EXPTIME": (float, 4.0),
        "EXPOSURE": (float, 4.0),
        "GAIN": (int, 100),
        "OFFSET": (int, 50),
        "XBINNING": (int, 2),
        "YBINNING": (int, 2),
        "READOUTM": (str, "High Gain"),
        "CCD-TEMP": (float, -9.8),
        "SET-TEMP": (float, -10.0),
        "XPIXSZ": (float, 7.52),
        "YPIXSZ": (float, 7.52),
        "FILTER": (str, "Ha"),
        "INSTRUME": (str, "ZWO ASI6200MM Pro"),
        "TELESCOP": (str, "RedCat 51"),
        "ORIGIN": (str, "backyard"),
        "PANELBRT": (int, 118),
        "PANELMAX": (int, 255),
        "STATMEAN": (float, round(stats.mean, 3)),
        "STATMED": (float, round(stats.median, 3)),
        "STATSTD": (float, round(stats.std, 3)),
        "STATMIN": (int, stats.min),
        "STATMAX": (int, stats.max),
        "STATSAT": (float, 0.0),
        "REJECTED": (bool, False),
        "SWCREATE": (str, software_version()),
    }
    for keyword, (kind, value) in expected.items():
        assert type(h[keyword]) is kind, keyword
        assert h[keyword] == pytest.approx(value) if kind is float else h[keyword] == value, keyword
    assert abs(h["STATMEAN"] - 32000) < 20
    assert h["SWCREATE"].startswith("flatseq ")
    assert "REJREASN" not in h
    for card in h.cards:
        assert len(card.keyword) <= 8
        assert card.comment, f"{card.keyword} has no comment"


def test_dark_flat_header_matches_its_flats(tmp_path: Path) -> None:
    frame = flat_frame()
    flat = write_and_read(tmp_path, frame, header_for(FrameKind.FLAT, frame), "flat.fits")
    dark_frame = np.full((ROWS, COLS), 512, dtype=np.uint16)
    dark = write_and_read(tmp_path, dark_frame, header_for(FrameKind.DARK_FLAT, dark_frame, frame_no=1), "dark.fits")
    assert dark["IMAGETYP"] == "DARK"  # as N.I.N.A. 3 writes dark-flats
    assert dark["DARKFLAT"] is True
    for keyword in ("FLATSET", "EXPTIME", "GAIN", "OFFSET", "XBINNING", "YBINNING", "READOUTM", "SET-TEMP"):
        assert dark[keyword] == flat[keyword], keyword
    assert "PANELBRT" not in dark and "PANELMAX" not in dark
    assert dark["STATMEAN"] == 512.0 and dark["STATSTD"] == 0.0


def test_optional_cards_are_left_out(tmp_path: Path) -> None:
    frame = np.zeros((8, 8), dtype=np.uint16)
    header = FrameHeader(
        kind=FrameKind.BIAS,
        flat_set="s",
        run_id="r",
        frame_no=1,
        exposure=0.0,
        settings=CameraSettings(gain=0, offset=10),  # no cooler
        readout_mode_name="Normal",
        camera="cam",
        date_obs=START,
    )
    h = write_and_read(tmp_path, frame, header, "bias.fits")
    assert h["IMAGETYP"] == "BIAS" and h["DARKFLAT"] is False and h["REJECTED"] is False
    for absent in ("SET-TEMP", "CCD-TEMP", "FILTER", "PANELBRT", "STATMEAN", "DATE-END", "XPIXSZ", "TELESCOP"):
        assert absent not in h
    assert h["DATE-OBS"] == "2026-01-01T00:00:00.000"


def test_rejected_frame_carries_its_reason_even_a_long_one(tmp_path: Path) -> None:
    frame = flat_frame()
    reason = "mean 38212 ADU is above the window 29491-36044 ADU (50 % ± 10 % of 65536); panel drifted, 'search' again"
    h = write_and_read(
        tmp_path, frame, header_for(FrameKind.FLAT, frame, rejected=True, reject_reason=reason), "r.fits"
    )
    assert h["REJECTED"] is True
    assert h["REJREASN"] == reason.replace("±", "+/-")  # long strings use the FITS CONTINUE convention


def test_short_string_values_keep_a_comment_and_no_warning(tmp_path: Path) -> None:
    frame = flat_frame()
    name = "A camera with a rather long model name, 60 characters wide!"
    h = write_and_read(tmp_path, frame, header_for(FrameKind.FLAT, frame, camera=name, filter="Hα 3nm"), "s.fits")
    assert h["INSTRUME"] == name
    assert h["FILTER"] == "H? 3nm"  # FITS headers are ASCII


def test_date_obs_is_utc_iso_with_milliseconds(tmp_path: Path) -> None:
    frame = np.zeros((4, 4), dtype=np.uint16)
    h = write_and_read(
        tmp_path, frame, header_for(FrameKind.FLAT, frame, date_obs=START + 86400 * 327 + 11700.5), "d.fits"
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", h["DATE-OBS"])
    assert h["DATE-OBS"] == "2026-11-24T03:15:00.500"


def test_a_full_header_fits_the_room_reserved_for_it() -> None:
    frame = flat_frame()
    header = build_header(ROWS, COLS, header_for(FrameKind.FLAT, frame, rejected=True, reject_reason="x" * 500))
    assert len(header.tostring(endcard=True, padding=True)) <= HEADER_BYTES
    assert len(header.tostring(endcard=True, padding=True)) % 2880 == 0


def test_bytes_per_frame_matches_the_files_written(tmp_path: Path) -> None:
    frame = flat_frame()
    h = header_for(FrameKind.FLAT, frame, settings=CameraSettings(gain=100, offset=50, binning=1))
    with FrameWriter(tmp_path, clock=VirtualClock()) as writer:
        size = writer.submit(frame, h, "f.fits").result().stat().st_size
    assert size == bytes_per_frame(COLS, ROWS)
    assert bytes_per_frame(COLS * 2, ROWS * 2, binning=2) == size
    assert bytes_per_frame(9576, 6388) == 2 * 2880 + 42481 * 2880  # IMX455: 122 MB


def test_frame_header_refuses_contradictions() -> None:
    frame = flat_frame()
    with pytest.raises(ValueError, match="panel"):
        header_for(FrameKind.DARK_FLAT, frame, panel_brightness=10)
    with pytest.raises(ValueError, match="start at 1"):
        header_for(FrameKind.FLAT, frame, frame_no=0)
    with pytest.raises(ValueError, match="not rejected"):
        header_for(FrameKind.FLAT, frame, reject_reason="why")
    with pytest.raises(ValueError, match="exposure"):
        header_for(FrameKind.FLAT, frame, exposure=-1.0)


def test_mapping_headers_keep_their_cards_but_not_structural_ones(tmp_path: Path) -> None:
    frame = flat_frame()
    with FrameWriter(tmp_path, clock=VirtualClock()) as writer:
        path = writer.submit(frame, {"IMAGETYP": ("FLAT", "type"), "BITPIX": -32, "EXPTIME": 2.5}, "m.fits").result()
    with fits.open(path) as hdul:
        assert hdul[0].header["BITPIX"] == 16
        assert hdul[0].header["IMAGETYP"] == "FLAT" and hdul[0].header["EXPTIME"] == 2.5
        assert np.array_equal(hdul[0].data, frame)
