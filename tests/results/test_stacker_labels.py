"""Every file flatseq writes, as the stackers sort it: PixInsight WBPP's IMAGETYP rules (reimplemented below from
its source), ccdproc's ImageFileCollection as the astropy CCD guide uses it, astropy reading each file with no
warning, and the XISF masters read back by an independent decoder (the PyPI `xisf` package, GPL-3: used by
the tests only, never imported by flatseq) equal to the FITS masters to the bit."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

from sequencer.calibration.frames import read_info
from sequencer.core.timestamps import parse_fits_date
from sequencer.output.keywords import FrameKind
from sequencer.output.manifest import Manifest
from tests.support.stackers import SET, run_with_rejected_flats

# ---- PixInsight WBPP's classification, from its script BPP-Helper.js (WBPP 2.x, WBPPUtils.keywords.readFileInfos
# and WBPPUtils.smartNaming), as shipped in PixInsight's src/scripts/BatchPreprocessing:
# - IMAGETYP: `value.toLowerCase().replace(" ", "")` (JavaScript replaces the FIRST space only), then
#   bias|biasframe|masterbias → Bias; dark|darkframe|masterdark|flatdark|darkflat → Dark;
#   flat|flatframe|flatfield|masterflat → Flat; light|lightframe|scienceframe|science|masterlight → Light;
#   anything else Unknown. isMaster: the value contains "master" (any case).
# - XISF files: then `getXISFProperty("PCL:Image:Type", info[0].imageType)`, the Image element's imageType
#   attribute, sets type and isMaster (MasterDark → Dark and master; Dark → Dark, not master; ...).
# - Unknown: the last of BIAS|DARK|DARKS|FLAT|FLATS|LIGHT|LIGHTS standing alone in the path, else
#   "Unable to determine frame type; assuming LIGHT frame".
# - A master whose file is not .xisf is refused: "master calibration files must be in XISF format".

_WBPP_KEYWORD = {
    **dict.fromkeys(("bias", "biasframe", "masterbias"), "bias"),
    **dict.fromkeys(("dark", "darkframe", "masterdark", "flatdark", "darkflat"), "dark"),
    **dict.fromkeys(("flat", "flatframe", "flatfield", "masterflat"), "flat"),
    **dict.fromkeys(("light", "lightframe", "scienceframe", "science", "masterlight"), "light"),
}
_WBPP_XISF = {
    "Bias": ("bias", False),
    "Dark": ("dark", False),
    "Flat": ("flat", False),
    "Light": ("light", False),
    "MasterBias": ("bias", True),
    "MasterDark": ("dark", True),
    "MasterFlat": ("flat", True),
}
_WBPP_PATH = re.compile(r"(?<![a-z0-9])(BIAS|DARKS?|FLATS?|LIGHTS?)(?![a-z0-9])", re.IGNORECASE)


def wbpp_classify(imagetyp: str | None, path: Path, xisf_image_type: str | None = None) -> tuple[str, bool, bool]:
    """(type, is master, accepted) as WBPP decides them for one file."""
    kind, master = "unknown", False
    if imagetyp is not None:
        kind = _WBPP_KEYWORD.get(imagetyp.lower().replace(" ", "", 1), "unknown")
        master = "master" in imagetyp.lower()
    if xisf_image_type in _WBPP_XISF:
        kind, master = _WBPP_XISF[xisf_image_type]
    if kind == "unknown":
        found = _WBPP_PATH.findall(str(path))
        kind = found[-1].lower().rstrip("s") if found else "light"
        master = False
    return kind, master, not master or path.suffix.lower() == ".xisf"


def xisf_module() -> Any:
    """The `xisf` decoder; a test that needs it fails (never skips) when it is missing."""
    try:
        import xisf
    except ImportError:
        pytest.fail("needs the PyPI package xisf (test-only, GPL-3): .ci/run installs it into the venv", pytrace=False)
    return xisf


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_with_rejected_flats(tmp_path_factory.mktemp("labels"), count=10, dark_flats=10, formats="both")


def expected_kinds(run: Path) -> dict[Path, tuple[str, bool]]:
    """flatseq's own word for every file it wrote: (type, master)."""
    (record,) = Manifest.load(run / "manifest.json").sets
    out = {run / f.file: ("flat", False) for f in record.flats}
    out.update({run / f.file: ("dark", False) for f in record.dark_flats})
    for path in (run / SET / "masters").iterdir():
        if path.suffix in (".fits", ".xisf"):
            out[path] = ("dark" if "darkflat" in path.name else "flat", True)
    return out


def test_wbpp_sorts_every_file_flatseq_writes_as_flatseq_means_it(run: Path) -> None:
    xisf = xisf_module()
    kinds = expected_kinds(run)
    assert len([p for p in kinds if p.suffix == ".xisf"]) == 2
    for path, (kind, master) in kinds.items():
        if path.suffix == ".xisf":
            meta = xisf.XISF(str(path)).get_images_metadata()[0]
            imagetyp = meta["FITSKeywords"]["IMAGETYP"][0]["value"]
            got = wbpp_classify(imagetyp, path, meta.get("imageType"))
        else:
            got = wbpp_classify(fits.getheader(path).get("IMAGETYP"), path)
        assert got[:2] == (kind, master), path
        assert got[2] == (not master or path.suffix == ".xisf"), path  # FITS masters: WBPP wants XISF


def test_the_old_master_label_was_a_light_frame_to_wbpp() -> None:
    """What the issue found: MASTERDARKFLAT is no WBPP type, and a name without DARK/FLAT words makes it LIGHT."""
    assert wbpp_classify("MASTERDARKFLAT", Path("/x/masters/m_Ha.fits"))[0] == "light"
    assert wbpp_classify("Master Dark", Path("/x/masters/m_Ha.xisf")) == ("dark", True, True)


def test_ccdproc_finds_the_masters_as_the_astropy_ccd_guide_does(run: Path) -> None:
    from ccdproc import ImageFileCollection

    masters = ImageFileCollection(str(run / SET / "masters"), glob_include="*.fits")
    dark = masters.files_filtered(imagetyp="master dark", combined=True)
    assert [Path(f).name for f in dark] == ["masterdarkflat_01-Ha-4s.fits"]
    assert masters.files_filtered(imagetyp="dark", combined=True, regex_match=True).tolist() == dark.tolist()
    assert [Path(f).name for f in masters.files_filtered(imagetyp="master flat", combined=True)] == [
        "masterflat_01-Ha-4s.fits"
    ]
    assert masters.files_filtered(darkflat=True, combined=True).tolist() == dark.tolist()
    raw = ImageFileCollection(str(run / SET / "darkflats"))
    assert len(raw.files_filtered(imagetyp="dark", darkflat=True)) == 10  # the guide's own call, on raw frames
    assert len(ImageFileCollection(str(run / SET / "flats")).files_filtered(imagetyp="flat")) == 10
    with pytest.warns(UserWarning, match="no FITS files in the collection"):  # not recursive: frames are lower
        assert len(ImageFileCollection(str(run)).files) == 0


def test_astropy_reads_every_file_without_a_warning(run: Path) -> None:
    from astropy.nddata import CCDData

    files = sorted(p for p in run.rglob("*.fits"))
    assert len(files) > 20
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FITSFixedWarning ('datfix': DATE-OBS without MJD-OBS) among them
        for path in files:
            CCDData.read(path, unit="adu")


def test_every_raw_frame_says_when_and_which_way_up(run: Path) -> None:
    for path in (run / SET).glob("*/*.fits"):
        if "masters" in path.parts:
            continue
        h = fits.getheader(path)
        assert h["ROWORDER"] == "TOP-DOWN"
        start = parse_fits_date(h["DATE-OBS"])
        end = parse_fits_date(h["DATE-END"])
        assert start is not None and end is not None
        assert h["MJD-OBS"] == pytest.approx(start / 86400 + 40587, abs=1e-8)
        assert h["MJD-END"] == pytest.approx(end / 86400 + 40587, abs=1e-8)


def test_masters_keep_the_sets_settings_and_span_their_inputs(run: Path) -> None:
    (record,) = Manifest.load(run / "manifest.json").sets
    flat_header = fits.getheader(run / record.flats[-1].file)
    for name, imagetyp, darkflat in (
        ("masterdarkflat_01-Ha-4s.fits", "Master Dark", True),
        ("masterflat_01-Ha-4s.fits", "Master Flat", False),
    ):
        h = fits.getheader(run / SET / "masters" / name)
        assert (h["IMAGETYP"], h["DARKFLAT"], h["COMBINED"], h["NCOMBINE"]) == (imagetyp, darkflat, True, 10)
        for key in ("EXPTIME", "GAIN", "OFFSET", "FILTER", "XBINNING", "YBINNING", "READOUTM"):
            assert h[key] == flat_header[key], key
        assert h["CCD-TEMP"] == pytest.approx(flat_header["CCD-TEMP"], abs=0.5)
        assert h["ROWORDER"] == "TOP-DOWN"
        times = [parse_fits_date(h[k]) or 0.0 for k in ("DATE-OBS", "DATE-AVG", "DATE-END")]
        assert min(times) > 0 and times == sorted(times)
        for date, mjd in (("DATE-OBS", "MJD-OBS"), ("DATE-AVG", "MJD-AVG"), ("DATE-END", "MJD-END")):
            assert h[mjd] == pytest.approx(parse_fits_date(h[date]) / 86400 + 40587, abs=1e-8)  # type: ignore[operator]
        info = read_info(run / SET / "masters" / name)
        assert info.kind is FrameKind.MASTER
        assert info.master_of is (FrameKind.DARK_FLAT if darkflat else FrameKind.FLAT)


def test_xisf_masters_read_back_equal_to_the_fits_masters_to_the_bit(run: Path) -> None:
    xisf = xisf_module()
    for stem, image_type in (("masterdarkflat_01-Ha-4s", "MasterDark"), ("masterflat_01-Ha-4s", "MasterFlat")):
        fits_path, xisf_path = run / SET / "masters" / f"{stem}.fits", run / SET / "masters" / f"{stem}.xisf"
        assert xisf_path.read_bytes()[:8] == b"XISF0100"
        decoder = xisf.XISF(str(xisf_path))
        meta = decoder.get_images_metadata()[0]
        pixels = decoder.read_image(0)
        with fits.open(fits_path) as hdul:
            data, header = hdul[0].data, hdul[0].header
            assert pixels.shape == (*data.shape, 1) and pixels.dtype == np.float32
            assert np.array_equal(pixels[..., 0].view(np.uint32), data.astype(np.float32).view(np.uint32))
            assert meta["imageType"] == image_type and meta["sampleFormat"] == "Float32"
            keywords = meta["FITSKeywords"]
            for key in ("IMAGETYP", "FILTER", "READOUTM", "FLATSET"):
                assert keywords[key][0]["value"] == header[key], key
            for key in ("EXPTIME", "CCD-TEMP"):
                assert float(keywords[key][0]["value"]) == pytest.approx(header[key]), key
            for key in ("GAIN", "OFFSET", "XBINNING", "NCOMBINE"):
                assert int(keywords[key][0]["value"]) == header[key], key
            for key in ("COMBINED", "DARKFLAT"):
                assert keywords[key][0]["value"] == ("T" if header[key] else "F"), key
        props = meta["XISFProperties"]
        assert props["Instrument:ExposureTime"]["value"] == pytest.approx(4.0)
        assert props["Instrument:Filter:Name"]["value"] == "Ha"
        assert decoder.get_file_metadata()["XISF:CreatorApplication"]["value"].startswith("flatseq")


def test_flatseq_never_imports_the_gpl_decoder() -> None:
    """`xisf` is GPL-3: the tests may read with it; flatseq (MIT) writes XISF with its own code only."""
    root = Path(__file__).resolve().parents[2]
    for package in ("sequencer", "drivers", "simulators"):
        for path in (root / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"^\s*(import xisf|from xisf\b)", text, re.MULTILINE), path
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert not re.search(r'^\s*"xisf', pyproject, re.MULTILINE)
