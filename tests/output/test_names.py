"""File-name patterns: expansion, validation at check time, and no way out of the run directory."""

from __future__ import annotations

from datetime import datetime

import pytest

from drivers.base import CameraSettings
from drivers.errors import ConfigError
from sequencer.output.filenames import DEFAULT_PATTERN, NameFields, expand_pattern, validate_pattern
from sequencer.output.header import FrameHeader
from sequencer.output.keywords import FrameKind

START = 1_767_225_600.0 + 86400 * 327 + 11700.0  # 2026-11-24T03:15:00Z


def fields(**changes: object) -> NameFields:
    base: dict[str, object] = {
        "set": "Ha_4s",
        "kind": "flat",
        "filter": "Ha",
        "exposure": 4.0,
        "n": 7,
        "gain": 100,
        "offset": 50,
        "binning": 1,
        "date": "2026-11-24",
        "time": "031500",
        "run": "2026-11-24T031500Z",
    }
    base.update(changes)
    return NameFields(**base)  # type: ignore[arg-type]


def test_default_pattern_gives_each_set_a_folder_per_kind_and_one_for_rejected_frames() -> None:
    assert expand_pattern(DEFAULT_PATTERN, fields()) == "Ha_4s/flats/flat_Ha_4s_007.fits"
    assert expand_pattern(DEFAULT_PATTERN, fields(kind="darkflat", n=30)) == "Ha_4s/darkflats/darkflat_Ha_4s_030.fits"
    assert expand_pattern(DEFAULT_PATTERN, fields(folder="rejected")) == "Ha_4s/rejected/flat_Ha_4s_007.fits"


@pytest.mark.parametrize(
    ("kind", "rejected", "folder"),
    [
        (FrameKind.FLAT, False, "flats"),
        (FrameKind.DARK_FLAT, False, "darkflats"),
        (FrameKind.FLAT, True, "rejected"),
        (FrameKind.DARK_FLAT, True, "rejected"),
    ],
)
def test_the_folder_of_a_frame_comes_from_its_header(kind: FrameKind, rejected: bool, folder: str) -> None:
    header = FrameHeader(
        kind=kind,
        flat_set="Ha_4s",
        run_id="R",
        frame_no=2,
        exposure=4.0,
        settings=CameraSettings(gain=100, offset=50),
        readout_mode_name="Normal",
        camera="cam",
        date_obs=START,
        filter="Ha",
        rejected=rejected,
        reject_reason="mean 71 % above the window" if rejected else None,
    )
    assert expand_pattern("{set}/{folder}/{kind}_{n}", header) == f"Ha_4s/{folder}/{kind.value}_2.fits"


@pytest.mark.parametrize(
    ("exposure", "shown"), [(4.0, "4"), (1.5, "1.5"), (0.25, "0.25"), (0.001, "0.001"), (120.0, "120")]
)
def test_exposure_prints_in_its_shortest_exact_form(exposure: float, shown: str) -> None:
    assert expand_pattern("{kind}_{exposure}s_{n}", fields(exposure=exposure)) == f"flat_{shown}s_7.fits"


def test_every_placeholder_and_format_specs() -> None:
    pattern = "{run}/{date}/{set}/{kind}-{filter}-{exposure:.2f}s-g{gain}-o{offset}-b{binning}-{time}-{n:04d}.fit"
    assert (
        expand_pattern(pattern, fields())
        == "2026-11-24T031500Z/2026-11-24/Ha_4s/flat-Ha-4.00s-g100-o50-b1-031500-0007.fit"
    )


def test_fields_from_a_frame_header_use_local_date_and_time() -> None:
    header = FrameHeader(
        kind=FrameKind.DARK_FLAT,
        flat_set="OIII_1.5s",
        run_id="R",
        frame_no=3,
        exposure=1.5,
        settings=CameraSettings(gain=0, offset=10, binning=2),
        readout_mode_name="Normal",
        camera="cam",
        date_obs=START,
        filter=None,
    )
    local = datetime.fromtimestamp(START)
    assert expand_pattern("{date}_{time}/{set}_{kind}_{filter}_{exposure}_{binning}_{n:02d}", header) == (
        f"{local:%Y-%m-%d}_{local:%H%M%S}/OIII_1.5s_darkflat_none_1.5_2_03.fits"
    )


def test_values_cannot_make_directories_or_hidden_files() -> None:
    assert expand_pattern(DEFAULT_PATTERN, fields(filter="Ha/OIII", set="..")) == "_./flats/flat_Ha_OIII_4s_007.fits"
    assert expand_pattern("{set}/{kind}{n}", fields(set="../../etc")) == "_._.._etc/flat7.fits"
    assert expand_pattern("{set}/{kind}{n}", fields(set="")) == "_/flat7.fits"


def test_fits_extension_is_added_when_missing() -> None:
    assert expand_pattern("{kind}_{n}", fields()) == "flat_7.fits"
    assert expand_pattern("{kind}_{n}.FTS", fields()) == "flat_7.FTS"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("{set}/{kind}_{flter}_{n}.fits", r"unknown placeholder \{flter\}"),
        ("{kind}_{}_{n}.fits", r"positional placeholder \{\}"),
        ("{kind}_{0}_{n}.fits", r"positional placeholder \{0\}"),
        ("{kind}_{set.upper}_{n}", r"unknown placeholder \{set.upper\}"),
        ("{kind}_{filter!r}_{n}", r"\{filter!r\} may only carry a plain format spec"),
        ("{kind}_{filter:03d}_{n}", r"\{filter:03d\}"),
        ("{kind}_{n:{gain}}", r"may only carry a plain format spec"),
        ("{kind}_{n", "expected '}'"),
        ("{set}/{kind}.fits", r"must contain \{n\}"),
        ("{set}/{n}.fits", r"must contain \{kind\}"),
        ("{set}_{filter}.fits", r"must contain \{kind\} and \{n\}"),
        ("../{kind}_{n}", "'..' path component"),
        ("{set}/../../{kind}_{n}", "'..' path component"),
        ("/data/{kind}_{n}", "relative to the run directory"),
        ("~/flats/{kind}_{n}", "relative to the run directory"),
        ("C:/flats/{kind}_{n}", "relative to the run directory"),
        ("{set}\\{kind}_{n}", "separate directories with '/'"),
        ("{set}//{kind}_{n}", "empty"),
        ("", "empty"),
    ],
)
def test_bad_patterns_are_config_errors_naming_the_problem(pattern: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_pattern(pattern)
    with pytest.raises(ConfigError):
        expand_pattern(pattern, fields())


def test_validate_accepts_good_patterns() -> None:
    for pattern in (
        DEFAULT_PATTERN,
        "{kind}{n}",
        "{run}/{set}/{kind}/{filter}_{n:03d}.fits",
        "flats/{kind}_{n}.fit",
        "{set}/{kind}_{filter}_{exposure}s_{n:03d}.fits",  # the layout before 0.2: one folder per set
    ):
        validate_pattern(pattern)
