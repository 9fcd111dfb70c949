"""A master's FITS header: the set's settings, then its provenance (inputs, counts, what was subtracted,
normalisation, rejection), in the same keyword vocabulary as the raw frames (`sequencer.output.keywords`).

Labelled as stackers look for masters: IMAGETYP ``Master Dark`` (with DARKFLAT = T) or ``Master Flat`` as WBPP
writes its own, COMBINED = T and NCOMBINE for ccdproc, and the set's EXPTIME, GAIN, OFFSET, CCD-TEMP, FILTER,
binning and readout mode kept (PixInsight's integration drops them). DATE-OBS, DATE-AVG and DATE-END span
the inputs' exposures, each with its MJD-x.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from astropy.io import fits

from sequencer.calibration.combine import Combined
from sequencer.calibration.frames import FrameInfo
from sequencer.calibration.masterplan import SetPlan
from sequencer.core.timestamps import fits_date, mjd, parse_fits_date
from sequencer.output import keywords as kw
from sequencer.output.header import software_version
from sequencer.output.keywords import FrameKind

_KINDS = {"flat": FrameKind.FLAT, "dark-flat": FrameKind.DARK_FLAT, "bias": FrameKind.BIAS}
_REJECTION_NAMES = {"sigma": "SIGMA", "winsorized": "WINSORIZED", "none": "NONE"}


def master_header(
    plan: SetPlan,
    combined: Combined,
    *,
    kind: str,
    written_at: float,
    medians: list[float] | None = None,
    calibration_file: str | None = None,
) -> fits.Header:
    """The header of the master of `kind` ("flat", "dark-flat" or "bias") for one set; `written_at` is the
    clock time the master is written (DATE)."""
    h = fits.Header()
    imagetyp = kw.MASTER_IMAGETYP[_KINDS[kind]]
    inputs = plan.flats if kind == "flat" else plan.calibration
    h[kw.IMAGETYP] = (imagetyp, "type of image: a combined master")
    h[kw.DARKFLAT] = (kind == "dark-flat", "T: master dark-flat for the flats of FLATSET")
    h[kw.COMBINED] = (True, "combined from NCOMBINE frames")
    h[kw.MASTER] = (True, "a combined master, not a raw frame")
    h[kw.FLATSET] = (plan.key, "flat set this master belongs to")
    _settings(h, plan, kind, inputs)
    _dates(h, inputs)
    h[kw.ROWORDER] = (kw.TOP_DOWN, "first row stored is the top of the image")
    if plan.flats[0].bayer is not None:  # a CFA master: never debayered, its mosaic kept
        h[kw.BAYERPAT] = (plan.flats[0].bayer, "Bayer mosaic from the first stored pixel")
        h[kw.XBAYROFF] = (0, "Bayer offset in X: folded into BAYERPAT")
        h[kw.YBAYROFF] = (0, "Bayer offset in Y: folded into BAYERPAT")
    h[kw.DATE] = (fits_date(written_at, timespec="seconds"), "[UTC] master written")
    h[kw.SWCREATE] = (software_version(), "software that made this master")
    _combination(h, combined)
    if kind == "flat":
        h["CALTYPE"] = ("DARKFLAT" if plan.calibration_kind == "dark-flat" else "BIAS", "subtracted from each flat")
        h["CALFILE"] = (calibration_file or "", "master subtracted from each flat")
        h["NCALIB"] = (len(plan.calibration), "frames in that master")
        h["NORMMETH"] = ("MEDIAN", "each flat / its median after subtraction")
        h["NORMMEAN"] = (1.0, "the master is scaled to mean 1")
    for i, frame in enumerate(inputs, start=1):
        h[f"IMCMB{i:03d}" if i < 1000 else f"IMCMB{i}"] = (frame.path.name, f"input {i}")
    for text in _history(plan, combined, kind, imagetyp, inputs, medians, calibration_file):
        for line in textwrap.wrap(text, 72, break_long_words=True):
            h.add_history(line)
    return h


def _settings(h: fits.Header, plan: SetPlan, kind: str, inputs: Sequence[FrameInfo]) -> None:
    """The set's settings, as the raw frames carry them (ImageIntegration drops them; users complain)."""
    first, s = plan.flats[0], plan.settings
    if first.run_id:
        h[kw.RUNID] = (first.run_id, "flatseq run id")
    if first.filter:
        h[kw.FILTER] = (first.filter, "filter of the flats")
    if first.instrument:
        h[kw.INSTRUME] = (first.instrument, "camera")
    if s.exposure is not None and kind != "bias":
        h[kw.EXPTIME] = (s.exposure, "[s] exposure time of each input")
        h[kw.EXPOSURE] = (s.exposure, "[s] exposure time of each input")
    for key, value, comment in (
        (kw.GAIN, s.gain, "camera gain setting"),
        (kw.OFFSET, s.offset, "camera offset setting"),
        (kw.XBINNING, s.xbinning, "binning factor along X"),
        (kw.YBINNING, s.ybinning, "binning factor along Y"),
        (kw.READOUTM, s.readout, "readout mode"),
        (kw.SET_TEMP, s.set_temp, "[C] cooler set-point"),
    ):
        if value is not None:
            h[key] = (int(value) if isinstance(value, float) and value.is_integer() else value, comment)
    temps = [f.ccd_temp for f in inputs if f.ccd_temp is not None]
    if temps:
        h[kw.CCD_TEMP] = (round(sum(temps) / len(temps), 3), "[C] mean sensor temperature of the inputs")


def _dates(h: fits.Header, inputs: Sequence[FrameInfo]) -> None:
    """DATE-OBS (first input's start), DATE-AVG (mean of the inputs' mid-exposures), DATE-END (last input's end),
    each with its MJD-x; inputs whose DATE-OBS cannot be read are left out."""
    spans = []
    for frame in inputs:
        start = parse_fits_date(frame.date_obs) if frame.date_obs else None
        if start is not None:
            spans.append((start, start + (frame.exposure or 0.0)))
    if not spans:
        return
    first, last = min(a for a, _ in spans), max(b for _, b in spans)
    middle = sum((a + b) / 2 for a, b in spans) / len(spans)
    for date_key, mjd_key, when, what in (
        (kw.DATE_OBS, kw.MJD_OBS, first, "start of the first input"),
        (kw.DATE_AVG, kw.MJD_AVG, middle, "mean mid-exposure of the inputs"),
        (kw.DATE_END, kw.MJD_END, last, "end of the last input"),
    ):
        h[date_key] = (fits_date(when), f"[UTC] {what}")
        h[mjd_key] = (mjd(when), f"[d] {what}, MJD (UTC)")


def _combination(h: fits.Header, combined: Combined) -> None:
    h[kw.NCOMBINE] = (combined.frames, "frames combined")
    h["COMBMETH"] = ("MEAN", "mean of the values kept after rejection")
    rej = combined.rejection
    h["REJMETH"] = (_REJECTION_NAMES[rej.method], "outlier rejection")
    if rej.method != "none":
        h["REJCENT"] = ("MEDIAN", "rejection centre")
        h["REJSPRD"] = ("STDDEV" if rej.method == "sigma" else "WINSORIZED STDDEV", "rejection spread")
        h["REJLOW"] = (rej.low, "[sigma] low rejection threshold")
        h["REJHIGH"] = (rej.high, "[sigma] high rejection threshold")
        h["REJITER"] = (rej.iterations, "rejection passes (at most)")
    h["NREJECT"] = (combined.rejected, "values rejected (all frames)")
    h["REJFRAC"] = (round(combined.rejected_fraction, 8), "fraction of values rejected")


def _history(
    plan: SetPlan,
    combined: Combined,
    kind: str,
    imagetyp: str,
    inputs: Sequence[FrameInfo],
    medians: list[float] | None,
    calibration_file: str | None,
) -> list[str]:
    history = [f"{software_version()}: {imagetyp} of flat set {plan.key}"]
    if kind == "flat":
        history.append(
            f"each flat minus {calibration_file} ({len(plan.calibration)} {plan.calibration_kind}s), divided by "
            "its own median, combined by mean after rejection, scaled to mean 1"
        )
        for frame, median, rejected in zip(inputs, medians or [], combined.rejected_per_frame, strict=False):
            history.append(f"{frame.path.name}: median {median:.3f} ADU, {int(rejected)} px rejected")
    else:
        history.append(f"mean of {len(inputs)} {kind}s after rejection")
    history.append(f"rejection: {combined.rejection.describe()}")
    return history
