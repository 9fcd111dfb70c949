"""The bench's flat panel as an INDI light box (with a dust cap when the bench has a cover), and its filter
wheel as an INDI filter wheel, with INDI's standard property names.

Light box: FLAT_LIGHT_CONTROL is Busy while the panel warms up and Ok once stable (the sequencer's "ready"),
Alert for a dead panel; FLAT_LIGHT_INTENSITY runs 0..max (the bench's `max`); a switch-only panel
(`dimmable=0`) has no FLAT_LIGHT_INTENSITY at all, as a box that can only be switched. Dust cap: CAP_PARK
(PARK closes the cover over the telescope), Busy while it moves; light is refused while the cover is open, as a
Flip-Flat refuses it. Wheel: FILTER_SLOT 1..N, Busy while turning, Alert when stuck; FILTER_NAME from the bench.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.base import CoverState, LightState
from drivers.errors import DeviceError
from simulators.devices.panel import SimPanel
from simulators.devices.wheel import SimFilterWheel
from simulators.indi import properties as p
from simulators.indi.device import DeviceCore, Outgoing, accept, out_of_range

LIGHTBOX_INTERFACE = 1024
DUSTCAP_INTERFACE = 512
FILTER_INTERFACE = 16
_LIGHT_STATE = {LightState.OFF: "Ok", LightState.SETTLING: "Busy", LightState.READY: "Ok", LightState.ERROR: "Alert"}
_COVER_STATE = {
    CoverState.CLOSED: "Ok",
    CoverState.OPEN: "Ok",
    CoverState.MOVING: "Busy",
    CoverState.UNKNOWN: "Idle",
    CoverState.ERROR: "Alert",
}


class PanelDevice:
    """`ServedDevice` for a `SimPanel`."""

    def __init__(self, panel: SimPanel, core: DeviceCore) -> None:
        self.panel = panel
        self.core = core
        n = core.name
        low, high = panel.brightness_range
        self.props = {
            "FLAT_LIGHT_CONTROL": p.switches(
                n,
                "FLAT_LIGHT_CONTROL",
                "Flat Light",
                [("FLAT_LIGHT_ON", "On"), ("FLAT_LIGHT_OFF", "Off")],
                "FLAT_LIGHT_OFF",
            ),
        }
        if high > low:  # a dimmable panel; one that can only be switched has no intensity
            self.props["FLAT_LIGHT_INTENSITY"] = p.numbers(
                n, "FLAT_LIGHT_INTENSITY", "Brightness", [("FLAT_LIGHT_INTENSITY_VALUE", "Value", 0, low, high, 1)]
            )
        if panel.has_cover:
            self.props["CAP_PARK"] = p.switches(n, "CAP_PARK", "Park", [("PARK", "Park"), ("UNPARK", "Unpark")], None)
        self._seen: tuple[LightState, CoverState] | None = None
        core.working = list(self.props.values())
        core.props.update(self.props)

    def _connect(self) -> None:
        self.panel.connect()
        if "FLAT_LIGHT_INTENSITY" in self.props:
            intensity = self.props["FLAT_LIGHT_INTENSITY"].elements["FLAT_LIGHT_INTENSITY_VALUE"]
            intensity.value = float(self.panel.brightness())
        self._seen = None
        self.poll()

    def new(self, name: str, values: Mapping[str, p.Value]) -> list[Outgoing]:
        core = self.core
        if name == "CONNECTION":
            return core.connection(values, self._connect)
        prop = core.props.get(name)
        if prop is None or prop.perm == "ro" or not core.connected:
            return [] if prop is None else core.alert(prop, f"{name} cannot be set now (device not connected?)")
        merged = accept(prop, values)
        why = out_of_range(prop, merged) if prop.kind == "Number" else None
        if why is not None:
            return core.alert(prop, why)
        try:
            return self._handle(prop, merged)
        except DeviceError as exc:
            return core.alert(prop, exc.message)

    def _handle(self, prop: p.Prop, values: dict[str, p.Value]) -> list[Outgoing]:
        panel = self.panel
        if prop.name == "FLAT_LIGHT_INTENSITY":
            level = round(float(values["FLAT_LIGHT_INTENSITY_VALUE"]))
            panel.set_brightness(level)
            prop.elements["FLAT_LIGHT_INTENSITY_VALUE"].value = float(level)
            return [self.core.set(prop, "Ok")]
        if prop.name == "FLAT_LIGHT_CONTROL":
            if values.get("FLAT_LIGHT_ON") is True:
                if panel.has_cover and panel.cover_state() is CoverState.OPEN:
                    return self.core.alert(prop, "the cover is open: close it (CAP_PARK PARK) before switching on")
                panel.light_on(panel.brightness())
            else:
                panel.light_off()
        elif prop.name == "CAP_PARK":
            closing = values.get("PARK") is True
            if closing:
                panel.close_cover()
            elif values.get("UNPARK") is True:
                panel.open_cover()
            prop.choose("PARK" if closing else "UNPARK")
        self._seen = None
        return self.poll()

    def poll(self) -> list[Outgoing]:
        if not self.core.connected:
            return []
        light, cover = self.panel.light_state(), self.panel.cover_state()
        if self._seen == (light, cover):
            return []
        self._seen = (light, cover)
        out: list[Outgoing] = []
        control = self.props["FLAT_LIGHT_CONTROL"]
        control.choose("FLAT_LIGHT_OFF" if light is LightState.OFF else "FLAT_LIGHT_ON")
        why = "the panel reports an error: no light" if light is LightState.ERROR else None
        out.append(self.core.set(control, _LIGHT_STATE[light], why))
        cap = self.props.get("CAP_PARK")
        if cap is not None:
            if cover is not CoverState.MOVING:  # while moving, the switch says where it is going
                cap.choose({CoverState.CLOSED: "PARK", CoverState.OPEN: "UNPARK"}.get(cover))
            out.append(self.core.set(cap, _COVER_STATE.get(cover, "Idle")))
        return out


class WheelDevice:
    """`ServedDevice` for a `SimFilterWheel`."""

    def __init__(self, wheel: SimFilterWheel, names: tuple[str, ...], core: DeviceCore) -> None:
        self.wheel = wheel
        self.core = core
        n = core.name
        self.props = {
            "FILTER_SLOT": p.numbers(
                n,
                "FILTER_SLOT",
                "Filter Slot",
                [("FILTER_SLOT_VALUE", "Filter", 1, 1, len(names), 1)],
                group="Filter Wheel",
            ),
            "FILTER_NAME": p.texts(
                n,
                "FILTER_NAME",
                "Filter",
                {f"FILTER_SLOT_NAME_{i + 1}": (f"Filter#{i + 1}", name) for i, name in enumerate(names)},
                group="Filter Wheel",
            ),
        }
        self._seen: int | None = None
        self._alerted = False
        core.working = list(self.props.values())
        core.props.update(self.props)

    def _connect(self) -> None:
        self.wheel.connect()
        self._seen = None
        self.poll()

    def new(self, name: str, values: Mapping[str, p.Value]) -> list[Outgoing]:
        core = self.core
        if name == "CONNECTION":
            return core.connection(values, self._connect)
        prop = core.props.get(name)
        if prop is None or not core.connected:
            return [] if prop is None else core.alert(prop, f"{name} cannot be set now (device not connected?)")
        if name == "FILTER_NAME":
            return core.alert(prop, "the simulated wheel's filter names come from the bench (filters=)")
        merged = accept(prop, values)
        why = out_of_range(prop, merged)
        if why is not None:
            return core.alert(prop, f"Error: valid range of filter is from 1 to {len(self.wheel.names())} ({why})")
        try:
            self.wheel.move_to(round(float(merged["FILTER_SLOT_VALUE"])) - 1)
        except DeviceError as exc:
            return core.alert(prop, exc.message)
        self._seen, self._alerted = None, False
        return [core.set(prop, "Busy"), *self.poll()]

    def poll(self) -> list[Outgoing]:
        if not self.core.connected or self._alerted:
            return []
        prop = self.props["FILTER_SLOT"]
        try:
            slot = self.wheel.position()
        except DeviceError as exc:
            self._alerted = True
            return self.core.alert(prop, exc.message)
        if slot is None or slot == self._seen:
            return []
        self._seen = slot
        prop.elements["FILTER_SLOT_VALUE"].value = float(slot + 1)
        return [self.core.set(prop, "Ok")]
