"""Sensor models: the numbers that turn photoelectrons into ADU, and the presets the bench offers.

A `SensorModel` is plain data plus the conversions a camera needs (gain → e⁻/ADU, offset → pedestal,
temperature → dark current). The IMX455 figures are the public ones (DOMAIN.md); the small preset has the
same physics on a 320×214 grid so tests run in milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from types import MappingProxyType


@dataclass(frozen=True)
class ReadoutMode:
    """One readout mode: which conversion gain it uses, its ADC depth and how it shifts noise and speed.

    `conversion`: "auto" switches to high conversion gain (HCG) at the sensor's `hcg_gain` (ZWO style),
    "high" is always HCG, "low" always LCG. A 14-bit mode returns ADU in steps of 4 (left-aligned).
    """

    name: str
    conversion: str = "auto"
    adc_bits: int = 16
    read_noise_scale: float = 1.0
    full_well_scale: float = 1.0
    readout_scale: float = 1.0


DEFAULT_MODES = (
    ReadoutMode("Photographic 16bit"),
    ReadoutMode("High Gain 16bit", conversion="high", read_noise_scale=0.95),
    ReadoutMode(
        "Extended Fullwell 14bit",
        conversion="low",
        adc_bits=14,
        read_noise_scale=1.15,
        full_well_scale=1.4,
        readout_scale=0.6,
    ),
)


@dataclass(frozen=True)
class SensorModel:
    """A sensor's physics and a camera's ranges.

    Conversion gain follows ZWO's nominal 0.1 dB gain steps: e⁻/ADU = `e_per_adu_at_gain0` × 10^(−gain/200),
    smooth across the HCG switch; read noise and full well change at the switch. Dark current doubles every
    `dark_doubling_c` degrees from `dark_current_ref` e⁻/s at `dark_ref_temp_c`.
    """

    name: str
    width: int
    height: int
    pixel_size_um: float = 3.76
    max_adu: int = 65535
    e_per_adu_at_gain0: float = 0.78
    hcg_gain: int = 100
    gain_max: int = 300
    offset_max: int = 300
    offset_adu_per_step: float = 10.0
    full_well_lcg: float = 51_000.0
    full_well_hcg: float = 20_000.0
    read_noise_lcg: float = 3.5
    read_noise_hcg: float = 1.6
    dark_current_ref: float = 0.0046
    dark_ref_temp_c: float = -10.0
    dark_doubling_c: float = 6.0
    glow_peak: float = 0.3
    """Amp glow at the two right-hand corners, e⁻/s per pixel (falls off over ~6 % of the width)."""
    glow_scale: float = 0.06
    hot_fraction: float = 0.0002
    prnu_rms: float = 0.005
    banding_fixed: float = 0.25
    """Fixed column pattern, RMS as a fraction of the read noise."""
    banding_frame: float = 0.08
    """Per-frame column component, RMS as a fraction of the read noise."""
    readout_time: float = 1.5
    max_binning: int = 4
    min_exposure: float = 32e-6
    max_exposure: float = 3600.0
    cooling_delta_max: float = 35.0
    """How far below ambient the cooler can pull the sensor."""
    readout_modes: tuple[ReadoutMode, ...] = DEFAULT_MODES
    bayer: str | None = None
    """A colour sensor's Bayer pattern at pixel (0, 0) ("RGGB"; see simulators.physics.colour), None for mono."""
    qe_rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """A colour pixel's response in its own band, relative to a mono pixel's to the same light in all bands (the
    colour filter array passes one band of three, so about a third)."""

    @property
    def colour(self) -> bool:
        return self.bayer is not None

    def with_options(self, **changes: float | int) -> SensorModel:
        """A copy with some fields replaced (URL options such as full_well=, readout=)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def mode(self, index: int) -> ReadoutMode:
        return self.readout_modes[index]

    def high_conversion(self, gain: int, mode: int = 0) -> bool:
        conversion = self.mode(mode).conversion
        if conversion == "high":
            return True
        if conversion == "low":
            return False
        return gain >= self.hcg_gain

    def e_per_adu(self, gain: int) -> float:
        """System gain in e⁻ per 16-bit ADU at a gain setting."""
        return self.e_per_adu_at_gain0 * math.pow(10.0, -gain / 200.0)

    def read_noise_e(self, gain: int, mode: int = 0) -> float:
        """Read noise in e⁻ RMS: falls with gain within a conversion mode, drops at the HCG switch."""
        hcg = self.high_conversion(gain, mode)
        base = self.read_noise_hcg if hcg else self.read_noise_lcg
        start = self.hcg_gain if (hcg and gain >= self.hcg_gain) else 0
        falloff = 0.75 + 0.25 * math.pow(10.0, -max(gain - start, 0) / 200.0)
        return base * falloff * self.mode(mode).read_noise_scale

    def read_noise_adu(self, gain: int, mode: int = 0, binning: int = 1) -> float:
        """Temporal read noise in ADU of one (binned, averaged) pixel, before quantisation."""
        return self.read_noise_e(gain, mode) / self.e_per_adu(gain) / binning

    def full_well_e(self, gain: int, mode: int = 0) -> float:
        hcg = self.high_conversion(gain, mode)
        well = self.full_well_hcg if hcg else self.full_well_lcg
        return well * self.mode(mode).full_well_scale

    def adu_step(self, mode: int = 0) -> int:
        """ADU quantum: 1 for a 16-bit mode, 4 for a 14-bit one (values are left-aligned to 16 bits)."""
        return 1 << max(16 - self.mode(mode).adc_bits, 0)

    def pedestal_adu(self, offset: int) -> float:
        """The bias level an offset setting adds, in ADU: an arbitrary floor, a few hundred ADU."""
        return offset * self.offset_adu_per_step

    def dark_current(self, temperature_c: float) -> float:
        """Thermal dark current in e⁻/s per pixel at a sensor temperature."""
        return self.dark_current_ref * math.pow(2.0, (temperature_c - self.dark_ref_temp_c) / self.dark_doubling_c)

    def saturation_adu(self, gain: int, offset: int, mode: int = 0) -> float:
        """Where a pixel clips: at full well or at the ADC's top, whichever comes first."""
        step = self.adu_step(mode)
        top = self.max_adu - (step - 1)
        return min(float(top), self.pedestal_adu(offset) + self.full_well_e(gain, mode) / self.e_per_adu(gain))

    def readout_seconds(self, mode: int = 0) -> float:
        return self.readout_time * self.mode(mode).readout_scale

    def binned_shape(self, binning: int) -> tuple[int, int]:
        """(rows, cols) of a frame at a binning: partial bins at the edges are dropped."""
        return self.height // binning, self.width // binning

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def describe(self) -> str:
        kind = f" (colour, {self.bayer})" if self.bayer else ""
        return (
            f"{self.name}{kind}: {self.width}×{self.height}, {self.pixel_size_um} µm, "
            f"{self.e_per_adu(0):.2f} e⁻/ADU at gain 0, HCG from gain {self.hcg_gain}"
        )


def _preset(name: str, width: int, height: int, **extra: float | int) -> SensorModel:
    return SensorModel(name=name, width=width, height=height).with_options(**extra)


def _colour(mono: SensorModel, qe_rgb: tuple[float, float, float]) -> SensorModel:
    """The same silicon behind an RGGB Bayer mosaic (ASI6200MC for the IMX455, ASI2600MC for the IMX571)."""
    return replace(mono, name=mono.name + "c", qe_rgb=qe_rgb, bayer="RGGB")


_IMX455 = _preset("imx455", 9576, 6388, readout_time=1.5)
_IMX571 = _preset(
    "imx571", 6252, 4176, full_well_lcg=50_000.0, read_noise_lcg=3.3, read_noise_hcg=1.4, readout_time=0.65
)
_SMALL = _preset("small", 320, 214, readout_time=0.05)
SENSORS = MappingProxyType(
    {
        "imx455": _IMX455,
        "imx571": _IMX571,
        "small": _SMALL,
        "imx455c": _colour(_IMX455, (0.27, 0.33, 0.29)),
        "imx571c": _colour(_IMX571, (0.28, 0.34, 0.30)),
        "smallc": _colour(_SMALL, (0.27, 0.33, 0.29)),
    }
)
"""Sensor presets by name. `small` has IMX455 physics on a tiny grid, for tests; a name ending in `c` is the
colour version of a preset (RGGB unless the bench's `bayer=` says otherwise)."""
