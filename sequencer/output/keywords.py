"""One vocabulary of FITS keywords and frame kinds: what flatseq writes on raw frames and masters, and what
it reads back (from its own files and from N.I.N.A.'s, Ekos', SGP's) for `flatseq master` and `flatseq audit`.

IMAGETYP follows N.I.N.A. 3 (``FLAT`` for flats, ``DARK`` for dark-flats, ``BIAS``) so stacking tools sort the
frames as they already do; DARKFLAT = T tells a dark-flat from a night's darks; FLATSET ties a dark-flat to
its flats once the files leave flatseq. Masters are labelled as PixInsight's WBPP writes its own (``Master
Dark``, ``Master Flat``, ``Master Bias``; WBPP lower-cases IMAGETYP, removes its first space and knows
``masterdark`` and ``masterflat``), with DARKFLAT = T on the master dark-flat and COMBINED = T (what ccdproc's
``files_filtered(combined=True)`` looks for). Older flatseq masters (``MASTERDARKFLAT``, ``MASTERFLAT``,
``MASTER = T``) still read as masters.
"""

from __future__ import annotations

import enum

# ---- keywords flatseq writes (and reads first) ----
IMAGETYP = "IMAGETYP"
DARKFLAT = "DARKFLAT"
FLATSET = "FLATSET"
RUNID = "RUNID"
FRAMENO = "FRAMENO"
DATE_OBS = "DATE-OBS"
DATE_END = "DATE-END"
DATE_AVG = "DATE-AVG"
DATE = "DATE"
MJD_OBS = "MJD-OBS"
MJD_END = "MJD-END"
MJD_AVG = "MJD-AVG"
"""Each DATE-x with its MJD-x: astropy (wcslib's datfix) warns about every DATE-x that has no MJD-x."""
ROWORDER = "ROWORDER"
TOP_DOWN = "TOP-DOWN"
"""ROWORDER's value: the first row stored is the top of the image, as the camera reads it out (N.I.N.A.)."""
BAYERPAT = "BAYERPAT"
XBAYROFF = "XBAYROFF"
YBAYROFF = "YBAYROFF"
"""A colour frame's mosaic (N.I.N.A., Siril, PixInsight and ASIAIR read BAYERPAT; Siril and PixInsight shift it
by X/YBAYROFF): flatseq writes the pattern as it starts at the first stored pixel, offsets 0, so a reader that
ignores the offsets reads it right too. With ROWORDER = TOP-DOWN the first stored pixel is the top left."""
EXPTIME = "EXPTIME"
EXPOSURE = "EXPOSURE"
EXPREQ = "EXPREQ"
"""The exposure asked of the camera; EXPTIME/EXPOSURE are what it reports it did."""
GAIN = "GAIN"
OFFSET = "OFFSET"
XBINNING = "XBINNING"
YBINNING = "YBINNING"
READOUTM = "READOUTM"
CCD_TEMP = "CCD-TEMP"
SET_TEMP = "SET-TEMP"
XPIXSZ = "XPIXSZ"
YPIXSZ = "YPIXSZ"
FILTER = "FILTER"
INSTRUME = "INSTRUME"
TELESCOP = "TELESCOP"
ORIGIN = "ORIGIN"
PANELBRT = "PANELBRT"
PANELMAX = "PANELMAX"
REJECTED = "REJECTED"
REJREASN = "REJREASN"
SWCREATE = "SWCREATE"
STATMEAN = "STATMEAN"
STATMED = "STATMED"
STATSTD = "STATSTD"
STATMIN = "STATMIN"
STATMAX = "STATMAX"
STATSAT = "STATSAT"
MASTER = "MASTER"
"""T on a combined master (never on a raw frame)."""
COMBINED = "COMBINED"
"""T on a combined master: the astropy CCD guide's way of finding masters."""
NCOMBINE = "NCOMBINE"
XORGSUBF = "XORGSUBF"
YORGSUBF = "YORGSUBF"
"""A region of interest's origin, in binned pixels (MaxIm DL's and the SBIG FITS extension's keywords, written by
N.I.N.A., SGP and APT); NAXIS1/NAXIS2 give its size."""
LTROTANG = "LTROTANG"
"""[deg] On flats and dark-flats planned by `flatseq plan`: the rotator angle of the lights they were planned
for (flatseq reads no rotator: this is the lights' angle, not a measurement)."""
LTFOCPOS = "LTFOCPOS"
"""[steps] Likewise, the focuser position of the lights these flats were planned for."""
SUNALT = "SUNALT"
"""[deg] On sky flats: the Sun's altitude at mid-exposure (astropy, at the site of the sequence). A flat set
whose flats carry it is a sky set: its flats may have several exposures (the ladder), each calibrated by the
dark-flats of its own exposure."""
SITELAT = "SITELAT"
SITELONG = "SITELONG"
SITEELEV = "SITEELEV"
"""[deg, deg, m] The site of sky flats (N.I.N.A.'s keywords): where SUNALT was computed for."""

# ---- what other programs write for the same things, in the order they are read ----
IMAGETYP_KEYS = (IMAGETYP, "FRAME", "FRAMETYP")
EXPOSURE_KEYS = (EXPTIME, EXPOSURE)
CCD_TEMP_KEYS = (CCD_TEMP, "CCD_TEMP")
SET_TEMP_KEYS = (SET_TEMP, "SET_TEMP")
ROTATION_KEYS = ("ROTATANG", "ROTATOR", "OBJCTROT")
"""The rotator: N.I.N.A. writes ROTATOR (mechanical) and ROTATANG, Ekos/SGP ROTATANG, others OBJCTROT."""
FOCUS_KEYS = ("FOCPOS", "FOCUSPOS")
"""The focuser position: FOCPOS (N.I.N.A., SGP, APT), FOCUSPOS (N.I.N.A., Ekos)."""


class FrameKind(enum.Enum):
    """What a frame is for. The value is the ``{kind}`` in file names and the manifest's ``kind``.

    flatseq writes FLAT, DARK_FLAT and BIAS frames; reading other programs' files also meets plain darks,
    lights, masters and frames of no known type. A DARK becomes a set's dark-flat when its exposure and
    settings match the flats'.
    """

    FLAT = "flat"
    DARK_FLAT = "darkflat"
    BIAS = "bias"
    DARK = "dark"
    LIGHT = "light"
    MASTER = "master"
    OTHER = "other"

    @property
    def label(self) -> str:
        """The kind as people write it: "dark-flat", "flat", ..."""
        return "dark-flat" if self is FrameKind.DARK_FLAT else self.value

    @property
    def is_dark(self) -> bool:
        return self in (FrameKind.DARK, FrameKind.DARK_FLAT)

    @property
    def imagetyp(self) -> str:
        """IMAGETYP as N.I.N.A. 3 writes it (it migrated DARKFLAT to DARK)."""
        return _WRITTEN_IMAGETYP.get(self, self.value.upper())


WRITTEN_KINDS = frozenset({FrameKind.FLAT, FrameKind.DARK_FLAT, FrameKind.BIAS})
"""The kinds of raw frame flatseq takes."""

_WRITTEN_IMAGETYP = {FrameKind.FLAT: "FLAT", FrameKind.DARK_FLAT: "DARK", FrameKind.BIAS: "BIAS"}

MASTER_IMAGETYP = {FrameKind.FLAT: "Master Flat", FrameKind.DARK_FLAT: "Master Dark", FrameKind.BIAS: "Master Bias"}
"""IMAGETYP of the masters `flatseq master` writes, by the kind of frame combined (WBPP's own words; a master
dark-flat is a ``Master Dark`` with DARKFLAT = T, as a raw dark-flat is a ``DARK`` with DARKFLAT = T)."""

XISF_IMAGE_TYPE = {FrameKind.FLAT: "MasterFlat", FrameKind.DARK_FLAT: "MasterDark", FrameKind.BIAS: "MasterBias"}
"""The XISF Image element's ``imageType`` for each master (XISF 1.0, 11.5; WBPP reads it before IMAGETYP)."""

_OLD_MASTER_KINDS = {"MASTERFLAT": FrameKind.FLAT, "MASTERDARKFLAT": FrameKind.DARK_FLAT, "MASTERBIAS": FrameKind.BIAS}

IMAGETYP_KINDS: dict[str, FrameKind] = {
    "FLAT": FrameKind.FLAT,
    "FLATFIELD": FrameKind.FLAT,
    "SKYFLAT": FrameKind.FLAT,
    "DOMEFLAT": FrameKind.FLAT,
    "DARKFLAT": FrameKind.DARK_FLAT,
    "FLATDARK": FrameKind.DARK_FLAT,
    "DARK": FrameKind.DARK,
    "BIAS": FrameKind.BIAS,
    "OFFSET": FrameKind.BIAS,
    "ZERO": FrameKind.BIAS,
    "LIGHT": FrameKind.LIGHT,
    "OBJECT": FrameKind.LIGHT,
    "SCIENCE": FrameKind.LIGHT,
}
"""IMAGETYP values seen in the wild (upper-cased, without spaces, '-', '_' or a trailing 'FRAME')."""


def kind_from_imagetyp(imagetyp: str) -> FrameKind:
    """'Flat Frame', 'FLAT', 'Dark Flat', 'DARKFLAT', 'Bias Frame' … → the kind (case, spaces, 'frame' ignored)."""
    token = imagetyp.upper().replace("_", "").replace("-", "").replace(" ", "")
    if token.startswith("MASTER"):
        return FrameKind.MASTER
    if token.endswith("FRAME"):
        token = token[: -len("FRAME")]
    return IMAGETYP_KINDS.get(token, FrameKind.OTHER)


def master_of(imagetyp: str, *, dark_flat: bool) -> FrameKind | None:
    """For a combined frame (a master), the kind of frames it combines: 'Master Dark' with DARKFLAT = T →
    DARK_FLAT, 'Master Flat' → FLAT, the older 'MASTERDARKFLAT' too, and a ccdproc-style 'DARK' with COMBINED = T;
    None when the IMAGETYP names none of them."""
    token = imagetyp.upper().replace("_", "").replace("-", "").replace(" ", "")
    if token in _OLD_MASTER_KINDS:
        return _OLD_MASTER_KINDS[token]
    kind = kind_from_imagetyp(token.removeprefix("MASTER"))
    if kind is FrameKind.DARK and dark_flat:
        return FrameKind.DARK_FLAT
    return kind if kind in (FrameKind.FLAT, FrameKind.DARK, FrameKind.DARK_FLAT, FrameKind.BIAS) else None
