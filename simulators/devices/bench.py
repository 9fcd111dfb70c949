"""The simulated optical bench: one camera, one panel, one filter wheel and a cooler on one injected clock.

The camera sees the panel's light through the filter in the beam: a frame's level follows panel brightness ×
filter transmission × exposure (and warm-up, afterglow, PWM, cover), on top of the additive parts the field
notes are about (offset pedestal, dark current, amp glow, column banding, hot pixels). Everything is seeded:
the same seed and the same calls give identical frames.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from drivers.base import Frame
from drivers.clock import Clock, SystemClock
from drivers.errors import ConfigError
from simulators.devices.camera import SimCamera
from simulators.devices.faults import Faults
from simulators.devices.injections import arm, bench_options, parse_injections
from simulators.devices.manual import SimManualHand, SimManualLight
from simulators.devices.panel import SimPanel
from simulators.devices.wheel import SimFilterWheel
from simulators.physics.colour import PANEL_SPECTRA, Tile, channel_light, tile_mean, tile_of
from simulators.physics.cooler import Cooler
from simulators.physics.light import PanelTimeline, WheelTimeline, integrate_light, transmission_seconds
from simulators.physics.manual import ManualLightSource
from simulators.physics.optics import FixedMaps, OpticsSettings, bin_maps, build_full_maps
from simulators.physics.options import BenchOptions, parse_options, parse_seed
from simulators.physics.render import ExposureSignal, FrameRenderer
from simulators.physics.sensor import SENSORS, SensorModel
from simulators.physics.sky import SkyModel, StarField, TwilightSky


class Bench:
    """A simulated rig. `Bench(sensor="small", seed=0, clock=None, **options)`; see `BenchOptions` for options.

    `.camera`, `.panel`, `.wheel` are the devices (not yet connected), `.sensor` the sensor model after
    option overrides, `.illumination(binning)` the true flat a master flat should reproduce. `.manual_light` is a
    light switched by hand (`.manual_light.switch(True)`), `.manual_hand` the simulated person who switches it
    when a run asks (`sim://manual`, for dry runs of `panel: manual`).
    """

    def __init__(self, sensor: str = "small", seed: int = 0, clock: Clock | None = None, **options: Any) -> None:
        preset = SENSORS.get(str(sensor).lower())
        if preset is None:
            raise ConfigError(f"unknown sim sensor {sensor!r} (known: {', '.join(SENSORS)})")
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.seed = parse_seed(seed)
        self.options: BenchOptions = parse_options(options)
        self.sensor: SensorModel = _sensor_with_options(preset, self.options)
        self._maps: dict[int, FixedMaps] = {}
        self._maps_lock = threading.Lock()
        self._renderer = FrameRenderer(self.sensor, self.seed)
        start = self.clock.now()
        opts = self.options
        self.light = PanelTimeline(opts, start)
        self.filter_path = WheelTimeline([opts.transmission(name) for name in opts.filters], start)
        self.manual_source = ManualLightSource(start)
        self.sky: TwilightSky | None = None
        """A twilight sky the telescope looks at (no panel in front): set it to take sky flats on the bench."""
        self.sky_capped_by_hand = opts.sky is not None
        """With the `sky` option the sky is seen only while the manual light is "on": the telescope uncapped
        (`sim://manual` is then the person who uncaps and caps it)."""
        if opts.sky is not None:
            model = SkyModel(flux95=opts.sky_flux, gradient=opts.sky_gradient)
            stars = StarField(count=opts.sky_stars, seed=self.seed)
            self.sky = TwilightSky(*opts.sky, start=start, model=model, stars=stars)
        self.cooler = Cooler(
            ambient=opts.ambient,
            rate=opts.cool_rate,
            delta_max=self.sensor.cooling_delta_max,
            stuck=opts.cooler == "stuck",
            stall=opts.cooler_stall,
            start=start,
        )
        self.faults = Faults({"camera": opts.camera_fault, "panel": opts.panel_fault, "wheel": opts.wheel_fault})
        """Faults in force and faults armed for a moment of the run (`simulators.devices.faults`)."""
        self.camera = SimCamera(self)
        self.panel = SimPanel(self)
        self.wheel = SimFilterWheel(self)
        self.manual_light = SimManualLight(self.manual_source, self.clock)
        self.manual_hand = SimManualHand(self.manual_light)

    @classmethod
    def from_options(cls, options: Mapping[str, str], clock: Clock | None = None) -> Bench:
        """Build from URL query options (`sensor`, `seed`, `inject` and any `BenchOptions` name)."""
        rest: dict[str, Any] = dict(options)
        sensor = str(rest.pop("sensor", "small"))
        seed = parse_seed(rest.pop("seed", "0"))
        injections = parse_injections(str(rest.pop("inject", "")))
        rest.update(bench_options(injections))
        bench = cls(sensor=sensor, seed=seed, clock=clock, **rest)
        arm(bench.faults, injections)
        return bench

    def close(self) -> None:
        """Release the render thread pool (big sensors only). The bench stays usable."""
        self._renderer.close()

    # the physics, for devices and for tests ---------------------------------------------------
    def maps(self, binning: int = 1) -> FixedMaps:
        """The fixed maps at a binning, built on first use."""
        with self._maps_lock:  # emulator threads may ask at once; build an IMX455's maps only once
            if binning not in self._maps:
                if 1 not in self._maps:
                    settings = OpticsSettings(self.options.vignetting, self.options.dust, self.seed)
                    self._maps[1] = build_full_maps(self.sensor, settings)
                self._maps[binning] = bin_maps(self._maps[1], binning)
            return self._maps[binning]

    def illumination(self, binning: int = 1) -> npt.NDArray[np.float64]:
        """The true multiplicative flat (vignetting × dust × PRNU), mean 1, at a binning."""
        return self.maps(binning).illumination.astype(np.float64)

    def transmission(self, filter_name: str) -> float:
        """A filter's transmission of the panel's light relative to L."""
        return self.options.transmission(filter_name)

    def light_electrons(self, start: float, seconds: float, rng: np.random.Generator | None = None) -> float:
        """Photoelectrons per pixel at illumination 1 collected over [start, start + seconds]."""
        generator = rng if rng is not None else np.random.default_rng([self.seed, 9])
        seen = integrate_light(self.light, self.filter_path, self.options, start, start + seconds, generator)
        by_hand = self.manual_source.lit_seconds(self.filter_path, start, start + seconds)
        manual = 0.0 if self.sky_capped_by_hand else self.options.manual_flux * by_hand
        return self.options.flux * seen + manual + self.sky_electrons(start, seconds)

    def sky_electrons(self, start: float, seconds: float) -> float:
        """The twilight sky's photoelectrons per pixel at illumination 1 over the exposure, through the wheel:
        the whole exposure, or (the `sky` option) the parts of it the telescope was uncapped."""
        if self.sky is None or seconds <= 0:
            return 0.0
        end = start + seconds
        spans = self.manual_source.on_spans(start, end) if self.sky_capped_by_hand else [(start, end)]
        total = 0.0
        for a, b in spans:
            total += self.sky.electrons(a, b) * transmission_seconds(self.filter_path, a, b) / (b - a)
        return total

    def light_pattern(
        self, start: float, seconds: float, light_e: float, binning: int
    ) -> npt.NDArray[np.float32] | None:
        """The light's shape across a frame of `light_e` e⁻ (None: flat): with a twilight sky, its gradient and
        stars weighted by the sky's share of the light (a panel's light is flat)."""
        if self.sky is None or seconds <= 0 or light_e <= 0:
            return None
        sky_e = min(self.sky_electrons(start, seconds), light_e)
        if sky_e <= 0:
            return None
        shape = self.maps(binning).shape
        pattern = self.sky.pattern(shape, binning, start, start + seconds)
        return np.asarray(1.0 + (sky_e / light_e) * (pattern - 1.0), dtype=np.float32)

    def channel_tile(self, filter_name: str) -> Tile | None:
        """A colour sensor's light per pixel of the 2×2 cell through a filter, relative to a mono pixel's, from
        the panel's spectrum and the sensor's response; None for a mono sensor."""
        if self.sensor.bayer is None:
            return None
        light = channel_light(PANEL_SPECTRA[self.options.spectrum], filter_name, self.sensor.qe_rgb)
        return tile_of(self.sensor.bayer, light)

    def filter_at(self, t: float) -> str:
        """The filter in the beam at time t (the one the wheel was last sent to)."""
        slot = 0
        for move in self.filter_path.moves():
            if move.start <= t:
                slot = move.slot
        return self.options.filters[slot]

    def colour_at(self, t: float, binning: int) -> tuple[float, Tile | None]:
        """(scale, tile) of the light at time t: a mono sensor (1, None); a colour sensor its cell's factors, or
        at a binning above 1 (where the cells are averaged together) their mean and no mosaic."""
        tile = self.channel_tile(self.filter_at(t))
        if tile is None:
            return 1.0, None
        if binning > 1:
            return tile_mean(tile), None
        return 1.0, tile

    def mean_dark_rate(self, temperature: float, binning: int = 1) -> float:
        """Mean dark signal in e⁻/s per pixel: dark current (with hot pixels) plus amp glow."""
        maps = self.maps(binning)
        thermal = self.sensor.dark_current(temperature) * (1.0 + maps.hot_mean())
        return thermal + self.sensor.glow_peak * maps.glow_mean()

    def frame_rng(self, index: int) -> np.random.Generator:
        """The generator for frame number `index`: seeded from (seed, index), so runs repeat exactly."""
        return np.random.default_rng([self.seed, 7, index])

    def render(self, signal: ExposureSignal, rng: np.random.Generator) -> Frame:
        return self._renderer.render(self.maps(signal.binning), signal, rng)

    def take(self, seconds: float, light: bool = True) -> Frame:
        """Expose on the (connected) camera, wait on the bench clock until ready, read the frame.

        A convenience for tests and scripts; the sequencer does the same with its own timeouts.
        """
        camera = self.camera
        camera.start_exposure(seconds, light)
        while not camera.image_ready():  # a hung camera raises DeviceTimeout from image_ready in the end
            deadline = camera.exposure_deadline() or self.clock.now()
            remaining = deadline - self.clock.now()
            self.clock.sleep(max(remaining, 1e-3) if remaining > 0 else 0.1)
        return camera.read_image()

    def describe(self) -> str:
        opts = self.options
        return (
            f"sim bench (seed {self.seed}): {self.sensor.describe()}; panel 0-{opts.max} {opts.curve}, "
            f"PWM {opts.pwm_hz:g} Hz, cover {'yes' if opts.cover else 'no'}; filters {','.join(opts.filters)}"
        )


def _sensor_with_options(preset: SensorModel, options: BenchOptions) -> SensorModel:
    if options.bayer is not None:
        if not preset.colour:
            colour = ", ".join(name for name, model in SENSORS.items() if model.colour)
            raise ConfigError(f"sim option bayer={options.bayer}: sensor {preset.name} is mono (colour: {colour})")
        preset = replace(preset, bayer=options.bayer)
    changes: dict[str, float] = {}
    if options.readout is not None:
        changes["readout_time"] = options.readout
    if options.full_well is not None:
        changes["full_well_lcg"] = options.full_well
        changes["full_well_hcg"] = options.full_well
    if options.read_noise is not None:
        ratio = preset.read_noise_hcg / preset.read_noise_lcg
        changes["read_noise_lcg"] = options.read_noise
        changes["read_noise_hcg"] = options.read_noise * ratio
    for option, field_name in (
        ("dark", "dark_current_ref"),
        ("doubling", "dark_doubling_c"),
        ("glow", "glow_peak"),
        ("hot_pixels", "hot_fraction"),
        ("prnu", "prnu_rms"),
        ("banding", "banding_fixed"),
    ):
        value = getattr(options, option)
        if value is not None:
            changes[field_name] = value
    return preset.with_options(**changes) if changes else preset
