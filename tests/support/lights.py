"""Light frames as the capture programs write them (N.I.N.A., Ekos/KStars, SGP, ASIAIR, APT), small, made in
the test: the keywords each program uses, the image a uint16 block of the size the header says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

MONO = "ZWO ASI6200MM Pro"
COLOUR = "ZWO ASI2600MC Pro"
SMALL = (320, 214)
"""The small simulated sensor (width, height): lights of that size are full frame on `sim://camera?sensor=small`."""


def write_light(path: Path, cards: dict[str, Any], size: tuple[int, int] = SMALL) -> Path:
    """A light with `cards` (None drops a card) over a `size` (width, height) image of zeros."""
    width, height = size
    header = fits.Header()
    for key, value in cards.items():
        if value is not None:
            header[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(np.zeros((height, width), dtype=np.uint16), header=header).writeto(path)
    return path


def nina(filter: str | None, *, binning: int = 1, gain: int = 100, offset: int = 50, rotation: float | None = 90.0,
         focus: float | None = 5000, date: str = "2026-05-01T22:00:00", **extra: Any) -> dict[str, Any]:  # fmt: skip
    """N.I.N.A. 3: IMAGETYP 'LIGHT', EXPOSURE and EXPTIME, READOUTM, ROTATOR, FOCPOS."""
    return {"IMAGETYP": "LIGHT", "EXPOSURE": 300.0, "EXPTIME": 300.0, "XBINNING": binning, "YBINNING": binning,
            "GAIN": gain, "OFFSET": offset, "READOUTM": "High Gain 16bit", "FILTER": filter, "INSTRUME": MONO,
            "CCD-TEMP": -10.1, "SET-TEMP": -10.0, "ROTATOR": rotation, "FOCPOS": focus, "DATE-OBS": date,
            **extra}  # fmt: skip


def ekos(filter: str, *, rotation: float = 90.0, focus: float = 5000, date: str = "2026-05-01T23:00:00",
         **extra: Any) -> dict[str, Any]:  # fmt: skip
    """Ekos/KStars: IMAGETYP 'Light Frame' and FRAME 'Light', EXPTIME only, ROTATANG, FOCUSPOS."""
    return {"IMAGETYP": "Light Frame", "FRAME": "Light", "EXPTIME": 180.0, "XBINNING": 1, "YBINNING": 1,
            "GAIN": 100, "OFFSET": 50, "READOUTM": "High Gain 16bit", "FILTER": filter, "INSTRUME": MONO,
            "CCD-TEMP": -10.0, "SET-TEMP": -10.0, "ROTATANG": rotation, "FOCUSPOS": focus, "DATE-OBS": date,
            **extra}  # fmt: skip


def sgp(filter: str, *, binning: int = 2, gain: int = 200, date: str = "2026-05-02T00:00:00",
        **extra: Any) -> dict[str, Any]:  # fmt: skip
    """SGP: IMAGETYP 'LIGHT', EXPOSURE only, OBJCTROT."""
    return {"IMAGETYP": "LIGHT", "EXPOSURE": 600.0, "XBINNING": binning, "YBINNING": binning, "GAIN": gain,
            "OFFSET": 50, "READOUTM": "High Gain 16bit", "FILTER": filter, "INSTRUME": MONO, "SET-TEMP": -10.0,
            "OBJCTROT": 90.2, "FOCPOS": 5000, "DATE-OBS": date, **extra}  # fmt: skip


def apt_roi(filter: str, *, x: int, y: int, date: str = "2026-05-02T01:00:00", **extra: Any) -> dict[str, Any]:
    """APT: IMAGETYP 'Light Frame', a region of interest (XORGSUBF/YORGSUBF)."""
    return {"IMAGETYP": "Light Frame", "EXPOSURE": 120.0, "XBINNING": 1, "YBINNING": 1, "GAIN": 100, "OFFSET": 50,
            "READOUTM": "High Gain 16bit", "FILTER": filter, "INSTRUME": MONO, "XORGSUBF": x, "YORGSUBF": y,
            "SET-TEMP": -10.0, "ROTATANG": 90.0, "FOCPOS": 5000, "DATE-OBS": date, **extra}  # fmt: skip


def asiair(*, date: str = "2026-05-01T21:00:00", **extra: Any) -> dict[str, Any]:
    """ASIAIR with a colour camera: IMAGETYP 'Light', no FILTER, BAYERPAT."""
    return {"IMAGETYP": "Light", "EXPTIME": 300.0, "XBINNING": 1, "YBINNING": 1, "GAIN": 100, "OFFSET": 10,
            "INSTRUME": COLOUR, "BAYERPAT": "RGGB", "CCD-TEMP": 0.0, "SET-TEMP": 0.0, "DATE-OBS": date,
            **extra}  # fmt: skip


MONO_PROFILE = """\
equipment:
  camera: sim://camera?sensor=small
  panel: sim://panel
  filter_wheel: sim://filterwheel?filters=L,R,G,B,Ha,OIII,SII
camera: {gain: 100, offset: 50, temperature: -10}
instrument: ZWO ASI6200MM Pro
defaults: {count: 3, dark_flats: 3, exposure: 1s, brightness: {target: 50%, tolerance: 10%},
           settle: {after_light_on: 1s, after_light_off: 1s}}
"""

COLOUR_PROFILE = """\
equipment:
  camera: sim://camera?sensor=small
  panel: sim://panel
camera: {gain: 100, offset: 10}
instrument: ZWO ASI2600MC Pro
defaults: {count: 3, exposure: 1s}
"""


def write_profile(config: Path, name: str, text: str) -> Path:
    path = config / "profiles" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def night(root: Path) -> Path:
    """A night's lights in folders: several filters, two binnings, two gains, a region, two rotations, a colour
    camera without FILTER; plus a flat, a file that is no FITS and a light with a damaged GAIN."""
    lights = root / "lights"
    for n in range(3):
        write_light(lights / "M31" / f"L_{n}.fits", nina("L", date=f"2026-05-01T22:0{n}:00"))
    write_light(lights / "M31" / "L_3.fits", nina("L", rotation=90.4, focus=5010, date="2026-05-01T22:05:00"))
    for n in range(2):
        write_light(lights / "M31" / f"R_{n}.fits", ekos("R", focus=5020, date=f"2026-05-01T23:0{n}:00"))
    for n in range(2):
        write_light(lights / "M42" / f"Ha_{n}.fits", sgp("Ha", date=f"2026-05-02T00:0{n}:00"), size=(160, 107))
    for n in range(2):
        write_light(lights / "M42" / f"L_rot_{n}.fits", nina("L", rotation=180.0, date=f"2026-05-01T20:0{n}:00"))
    for n in range(2):
        write_light(lights / "NGC7000" / f"OIII_{n}.fits", apt_roi("OIII", x=40, y=30), size=(200, 120))
    for n in range(2):
        write_light(lights / "colour" / f"Light_{n}.fits", asiair(date=f"2026-05-01T21:0{n}:00"))
    write_light(lights / "M31" / "FLAT_0.fits", {**nina("L"), "IMAGETYP": "FLAT"})
    (lights / "M31" / "notes.fits").write_text("not a FITS file, only named like one\n")
    write_light(lights / "M31" / "L_bad.fits", nina("L", GAIN="abc"))
    return lights
