"""`flatseq master` for a sky set: flats of a dusk on an exposure ladder (SUNALT, EXPREQ), each rung with its own
dark-flats, shot on the simulated bench under a twilight sky with drifting stars, and combined into one master
flat that tracks the true flat (vignetting, dust, PRNU and the sky's own gradient) with the stars rejected."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from drivers.base import CameraSettings, Frame
from drivers.clock import VirtualClock
from sequencer.calibration.master import MasterOptions, build_masters
from sequencer.calibration.masterplan import MasterError, plan_masters
from sequencer.calibration.rejection import Rejection
from sequencer.cli import main
from sequencer.output.fitsio import write_fits
from sequencer.output.header import FrameHeader
from sequencer.output.keywords import FrameKind
from sequencer.output.manifest import Manifest
from simulators.devices.bench import Bench
from simulators.physics.sky import StarField, TwilightSky
from tests.support.masterframes import select_filter
from tests.support.refusals import one_error_line

NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC).timestamp()
EXPOSURES = (1.0, 1.25, 1.56, 1.95)
FLATS_PER_RUNG = 4
DARKS_PER_RUNG = 3
TARGET_ADU = 22_000.0
SET = "L_sky"
SITE = (45.0, 7.0, 0.0)


@dataclass(frozen=True)
class SkyShot:
    kind: FrameKind
    exposure: float
    frame: Frame
    start: float
    ccd_temp: float | None
    sun_altitude: float | None = None


@dataclass
class SkyShots:
    bench: Bench
    sky: TwilightSky
    settings: CameraSettings
    flats: list[SkyShot]
    darks: list[SkyShot]

    def truth(self) -> np.ndarray:
        """The true flat of sky light: the optics' illumination times the sky's gradient, mean 1."""
        true = self.bench.illumination() * self.sky.gradient_map(self.bench.illumination().shape)
        return np.asarray(true / true.mean(), dtype=np.float64)

    def star_mask(self) -> np.ndarray:
        """Pixels where a star trail adds more than 5 % of the sky's light in any flat."""
        shape = self.bench.illumination().shape
        mask = np.zeros(shape, dtype=bool)
        for shot in self.flats:
            t1 = shot.start + shot.exposure
            stars = self.sky.stars.electrons(shape, 1, shot.start, t1, self.sky.epoch)
            mask |= stars / self.sky.electrons(shot.start, t1) > 0.05
        return mask


@pytest.fixture(scope="module")
def shots() -> SkyShots:
    """A dusk's ladder through L, each rung when the sky puts it near TARGET_ADU; then dark-flats of every
    rung with the sky gone (the telescope covered)."""
    sky = TwilightSky(*SITE, start=NOON, hours=6, stars=StarField(count=20, seed=1))
    clock = VirtualClock(NOON + 4.3 * 3600)
    bench = Bench(sensor="small", seed=11, clock=clock)
    for device in (bench.camera, bench.panel, bench.wheel):
        device.connect()
    bench.camera.apply(CameraSettings(gain=100, offset=50, temperature=-10.0))
    bench.camera.wait_for_cooler(timeout=900)
    select_filter(bench, "L")
    settings = bench.camera.read_settings()
    e_per_adu = bench.sensor.e_per_adu(settings.gain)
    bench.sky = sky
    flats = []
    for exposure in EXPOSURES:
        while sky.flux(clock.now()) * exposure / e_per_adu > TARGET_ADU:
            clock.sleep(2.0)
        for _ in range(FLATS_PER_RUNG):
            start = clock.now()
            frame = bench.take(exposure)
            altitude = float(sky.altitude(start + exposure / 2))
            flats.append(SkyShot(FrameKind.FLAT, exposure, frame, start, bench.camera.temperature(), altitude))
            clock.sleep(3.0)
    bench.sky = None
    darks = [
        SkyShot(FrameKind.DARK_FLAT, e, bench.take(e, light=False), clock.now(), bench.camera.temperature())
        for e in EXPOSURES
        for _ in range(DARKS_PER_RUNG)
    ]
    return SkyShots(bench, sky, settings, flats, darks)


def write_sky_run(
    root: Path,
    shots: SkyShots,
    *,
    skip_darks: float | None = None,
    gain_of: int | None = None,
    manifest: bool = False,
) -> Path:
    """The set as a flatseq run writes it (FrameHeader: SUNALT, SITE*, EXPREQ, EXPTIME as timed), with its
    manifest if asked (the set's "exposure" null, each frame's own); `skip_darks` leaves one rung's dark-flats
    out, `gain_of` gives that flat (0-based) another GAIN."""
    record = Manifest.create(root / "manifest.json", run_id="2026-12-02T161800Z", clock=VirtualClock(NOON))
    if manifest:
        sky = {"when": "dusk", "sun_altitude": [-2.0, -10.0], "dark_flats_per_exposure": DARKS_PER_RUNG}
        record.begin_set(SET, filter="L", exposure=None, settings=shots.settings, sky=sky)
    for folder, frames in (("flats", shots.flats), ("darkflats", shots.darks)):
        (root / SET / folder).mkdir(parents=True, exist_ok=True)
        for n, shot in enumerate(frames, start=1):
            if skip_darks is not None and shot.kind is FrameKind.DARK_FLAT and shot.exposure == skip_darks:
                continue
            settings = replace(shots.settings, gain=200) if gain_of == n - 1 and folder == "flats" else shots.settings
            header = FrameHeader(
                kind=shot.kind,
                flat_set=SET,
                run_id="2026-12-02T161800Z",
                frame_no=n,
                exposure=shot.exposure * 1.0003,  # as timed
                exposure_requested=shot.exposure,
                exposure_reported=True,
                settings=settings,
                readout_mode_name="Normal",
                camera="sim camera (small)",
                date_obs=shot.start,
                date_end=shot.start + shot.exposure,
                ccd_temp=shot.ccd_temp,
                filter="L",
                sun_altitude=shot.sun_altitude,
                site=SITE if shot.sun_altitude is not None else None,
            )
            name = f"{'flat' if shot.kind is FrameKind.FLAT else 'darkflat'}_L_{shot.exposure:g}s_{n:03d}.fits"
            path = write_fits(root / SET / folder / name, shot.frame, header)
            if manifest:
                record.add_written(path, header)
    if manifest:
        record.end_set(SET, "ok")
        record.finish("finished")
    else:
        (root / "manifest.json").unlink()
    return root


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_a_sky_set_is_planned_as_one_master_over_its_ladder(tmp_path: Path, shots: SkyShots) -> None:
    plan = plan_masters(write_sky_run(tmp_path, shots))
    assert len(plan.sets) == 1
    (one,) = plan.sets
    assert one.is_sky and one.exposure is None
    assert [r.exposure for r in one.rungs] == list(EXPOSURES)
    assert [len(r.flats) for r in one.rungs] == [FLATS_PER_RUNG] * 4
    assert [len(r.calibration) for r in one.rungs] == [DARKS_PER_RUNG] * 4
    assert all(d.exposure_requested == r.exposure for r in one.rungs for d in r.calibration)
    assert one.label() == "L_sky (L, 1s-1.95s ladder, 4 exposures)"


def test_the_sky_master_tracks_the_true_flat_and_rejects_the_stars(tmp_path: Path, shots: SkyShots) -> None:
    root = write_sky_run(tmp_path, shots)
    (result,) = build_masters(plan_masters(root), MasterOptions(clock=VirtualClock(NOON), workers=1))
    masters = root / SET / "masters"
    assert sorted(p.name for p in masters.iterdir()) == [
        "masterdarkflat_L_sky_1.25s.fits",
        "masterdarkflat_L_sky_1.56s.fits",
        "masterdarkflat_L_sky_1.95s.fits",
        "masterdarkflat_L_sky_1s.fits",
        "masterflat_L_sky.fits",
    ]
    with fits.open(result.flat_path) as hdul:
        header, master = hdul[0].header, hdul[0].data.astype(np.float64)
    assert header["IMAGETYP"] == "Master Flat" and header["NCOMBINE"] == 16
    assert "EXPTIME" not in header  # no one exposure: the ladder's cards say which
    assert header["NEXPOS"] == 4
    assert [header[f"EXPOS{n:02d}"] for n in range(1, 5)] == list(EXPOSURES)
    assert [header[f"NFLAT{n:02d}"] for n in range(1, 5)] == [FLATS_PER_RUNG] * 4
    assert header["DARKF02"] == "masterdarkflat_L_sky_1.25s.fits"
    altitudes = [s.sun_altitude for s in shots.flats if s.sun_altitude is not None]
    assert header["SUNAMIN"] == pytest.approx(min(altitudes), abs=1e-3)
    assert header["SUNAMAX"] == pytest.approx(max(altitudes), abs=1e-3)
    assert header["SUNAMAX"] - header["SUNAMIN"] > 0.5  # a real stretch of dusk
    assert master.mean() == pytest.approx(1.0, abs=1e-3)
    truth = shots.truth()
    assert correlation(master, truth) > 0.99
    stars = shots.star_mask()
    assert 0.05 < stars.mean() < 0.4  # 20 stars drifting through 16 flats
    residual = master / truth - 1
    noise = float(residual[~stars].std())
    assert abs(float(residual[stars].mean())) < 0.5 * noise
    assert float(np.percentile(np.abs(residual[stars]), 99)) < 6 * noise  # a trail's peak is ~15 % of the sky
    with fits.open(masters / "masterdarkflat_L_sky_1.56s.fits") as hdul:
        dark_header = hdul[0].header
        dark = hdul[0].data.astype(np.float64)
    assert dark_header["IMAGETYP"] == "Master Dark" and dark_header["DARKFLAT"] is True
    assert dark_header["EXPTIME"] == pytest.approx(1.56) and dark_header["NCOMBINE"] == DARKS_PER_RUNG
    raw = np.mean([s.frame.astype(np.float64) for s in shots.darks if s.exposure == 1.56], axis=0)
    assert float(np.abs(dark - raw).mean()) < 5.0  # the rejected mean of that rung's own dark-flats


def test_without_rejection_the_stars_stay_in_the_master(tmp_path: Path, shots: SkyShots) -> None:
    """The star check above means something: averaged without rejection, the trails lift the master there."""
    root = write_sky_run(tmp_path, shots)
    options = MasterOptions(rejection=Rejection(method="none"), clock=VirtualClock(NOON), workers=1)
    (result,) = build_masters(plan_masters(root), options)
    master = fits.getdata(result.flat_path).astype(np.float64)
    residual = master / shots.truth() - 1
    stars = shots.star_mask()
    assert float(residual[stars].mean()) > 2 * float(residual[~stars].std())


@pytest.mark.parametrize("manifest", [False, True], ids=["headers", "manifest"])
def test_the_cli_makes_the_sky_master(
    tmp_path: Path, shots: SkyShots, capsys: pytest.CaptureFixture[str], manifest: bool
) -> None:
    root = write_sky_run(tmp_path, shots, manifest=manifest)
    assert plan_masters(root).source == ("manifest" if manifest else "headers")
    assert main(["master", str(root)]) == 0
    out = capsys.readouterr().out
    assert "master flat from 16 flats over 1s-1.95s ladder, 4 exposures" in out
    assert "16 flats − master dark-flat per exposure, 4 exposures (12)" in out
    flats = list((root / SET / "masters").glob("masterflat_*.fits"))
    assert len(flats) == 1
    assert fits.getdata(flats[0]).mean() == pytest.approx(1.0, abs=1e-3)


def test_a_rung_without_its_dark_flats_is_refused(
    tmp_path: Path, shots: SkyShots, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_sky_run(tmp_path, shots, skip_darks=1.56)
    expected = "set L_sky: no dark-flats of 1.56 s for its 4 flats of 1.56 s; take 1.56 s dark-flats"
    with pytest.raises(MasterError) as refusal:
        plan_masters(root)
    assert str(refusal.value) == expected
    assert main(["master", str(root)]) == 2
    assert expected in one_error_line(capsys.readouterr())
    assert not (root / SET / "masters").exists()


def test_a_flat_with_another_gain_is_refused_by_file_and_keyword(tmp_path: Path, shots: SkyShots) -> None:
    root = write_sky_run(tmp_path, shots, gain_of=5)
    with pytest.raises(MasterError) as refusal:
        plan_masters(root)
    assert str(refusal.value).startswith(f"{root / SET / 'flats' / 'flat_L_1.25s_006.fits'}: GAIN = 200 where")
    assert "(set L_sky)" in str(refusal.value)


def test_bias_for_a_sky_set_keeps_the_rule_per_rung(tmp_path: Path, shots: SkyShots) -> None:
    """--bias on a ladder of 1-1.95 s: each rung gets the field notes' warning, one master bias serves them all."""
    root = write_sky_run(tmp_path / "run", shots)
    bias_dir = tmp_path / "bias"
    bias_dir.mkdir()
    for n in range(1, 6):
        header = FrameHeader(
            kind=FrameKind.BIAS,
            flat_set="bias",
            run_id="2026-12-02T161800Z",
            frame_no=n,
            exposure=0.0,
            settings=shots.settings,
            readout_mode_name="Normal",
            camera="sim camera (small)",
            date_obs=NOON + n,
            filter="L",
        )
        write_fits(bias_dir / f"bias_{n:03d}.fits", shots.bench.take(0.0, light=False), header)
    plan = plan_masters(root, bias=[bias_dir])
    (one,) = plan.sets
    assert one.calibration_kind == "bias" and all(len(r.calibration) == 5 for r in one.rungs)
    rung_warnings = [w for w in one.warnings if "leaves their dark signal" in w]
    assert [w.split(":")[0] for w in rung_warnings] == [f"L_sky ({e:g} s rung)" for e in EXPOSURES]
    assert "L_sky: its 12 dark-flats are not used (--bias)" in one.warnings
    (result,) = build_masters(plan, MasterOptions(clock=VirtualClock(NOON), workers=1))
    names = sorted(p.name for p in (root / SET / "masters").iterdir())
    assert names == ["masterbias_L_sky.fits", "masterflat_L_sky.fits"]
    assert fits.getheader(result.flat_path)["DARKF04"] == "masterbias_L_sky.fits"
    assert fits.getdata(result.flat_path).mean() == pytest.approx(1.0, abs=1e-3)


def test_a_bias_frame_among_a_sky_sets_dark_flats_is_refused(tmp_path: Path, shots: SkyShots) -> None:
    root = write_sky_run(tmp_path, shots)
    header = FrameHeader(
        kind=FrameKind.BIAS,
        flat_set=SET,
        run_id="2026-12-02T161800Z",
        frame_no=1,
        exposure=0.0,
        settings=shots.settings,
        readout_mode_name="Normal",
        camera="sim camera (small)",
        date_obs=NOON,
        filter="L",
    )
    path = write_fits(root / SET / "darkflats" / "bias_001.fits", shots.darks[0].frame, header)
    with pytest.raises(MasterError) as refusal:
        plan_masters(root)
    assert str(refusal.value) == (
        f"{path}: IMAGETYP = 'BIAS' among the dark-flats of set {SET}; bias and dark-flats are never mixed in one "
        "master"
    )
