"""flatseq's Alpaca drivers against flatseq's Alpaca server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from drivers.alpaca.camera import AlpacaCamera
from drivers.alpaca.imagebytes import ImageBytesHeader
from drivers.alpaca.panel import AlpacaCoverCalibrator
from drivers.alpaca.transport import AlpacaAddress, AlpacaTransport, TransportOptions
from drivers.alpaca.url import open_alpaca, parse_alpaca_url
from drivers.alpaca.wheel import AlpacaFilterWheel
from drivers.base import CameraSettings, CoverState, LightState
from drivers.clock import VirtualClock
from drivers.errors import (
    ConfigError,
    DeviceDisconnected,
    DeviceError,
    DeviceTimeout,
    InvalidOperation,
    InvalidValue,
    NotConnected,
    NotSupported,
)
from drivers.registry import OpenContext, open_equipment
from simulators.alpaca.server import AlpacaServer
from simulators.devices.bench import Bench
from tests.support.alpaca import alpaca_json, answer_each, finishes_within, read_request, scripted_server, served_bench


def _open(server: AlpacaServer, bench: Bench, device: str, query: str = "") -> object:
    return open_alpaca(server.url(device) + query, OpenContext(clock=bench.clock))


@pytest.fixture(autouse=True)
def _close_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every HTTP connection a test's drivers opened is closed when the test ends, disconnected or not (many
    tests end with the server gone or scripted to answer one call)."""
    made: list[AlpacaTransport] = []
    original = AlpacaTransport.__init__

    def tracking(self: AlpacaTransport, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(self)

    monkeypatch.setattr(AlpacaTransport, "__init__", tracking)
    yield
    for transport in made:
        transport.close()


@pytest.fixture
def served() -> Iterator[tuple[AlpacaServer, Bench]]:
    with served_bench(seed=4) as pair:
        yield pair


@pytest.fixture
def camera(served: tuple[AlpacaServer, Bench]) -> Iterator[AlpacaCamera]:
    server, bench = served
    device = _open(server, bench, "camera")
    assert isinstance(device, AlpacaCamera)
    device.connect()
    yield device
    device.disconnect()


def _expose(camera: AlpacaCamera, bench: Bench, seconds: float, light: bool = True) -> None:
    camera.start_exposure(seconds, light)
    assert not camera.image_ready()
    while not camera.image_ready():
        bench.clock.sleep(0.25)


# ---- opening --------------------------------------------------------------------------------


def test_equipment_urls_open_the_three_device_kinds(served: tuple[AlpacaServer, Bench]) -> None:
    server, bench = served
    equipment = open_equipment(server.equipment_urls, clock=bench.clock)
    assert isinstance(equipment.camera, AlpacaCamera)
    assert isinstance(equipment.panel, AlpacaCoverCalibrator)
    assert isinstance(equipment.wheel, AlpacaFilterWheel)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("alpaca://127.0.0.1:11111/telescope/0", "expected alpaca://"),
        ("alpaca://127.0.0.1:11111/camera", "expected alpaca://"),
        ("alpaca://127.0.0.1:11111/camera/x", "expected alpaca://"),
        ("alpaca:///camera/0", "no host"),
        ("alpaca://127.0.0.1:99999/camera/0", "invalid port"),
        ("alpaca://127.0.0.1/camera/0?timeout=0", "timeout must be a positive"),
        ("alpaca://127.0.0.1/camera/0?client_id=-3", "client_id"),
        ("alpaca://127.0.0.1/camera/0?speed=3", "unknown option speed"),
    ],
)
def test_bad_urls_are_config_errors(url: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_alpaca_url(url)


def test_url_defaults_and_options() -> None:
    address, options = parse_alpaca_url("alpaca://obs-pi/CoverCalibrator/2?timeout=2.5&client_id=77&imagebytes=0")
    assert address == AlpacaAddress("obs-pi", 11111, "covercalibrator", 2)
    assert (options.transport.timeout, options.transport.client_id, options.imagebytes) == (2.5, 77, False)


# ---- camera -----------------------------------------------------------------------------------


def test_connect_reads_name_and_info(camera: AlpacaCamera, served: tuple[AlpacaServer, Bench]) -> None:
    _, bench = served
    truth = bench.camera.info
    info = camera.info
    assert camera.name == bench.camera.name
    assert (info.width, info.height, info.max_adu, info.max_binning) == (
        truth.width,
        truth.height,
        65535,
        truth.max_binning,
    )
    assert (info.gain_min, info.gain_max, info.offset_max) == (truth.gain_min, truth.gain_max, truth.offset_max)
    assert info.readout_modes == truth.readout_modes and info.can_cool
    assert info.exposure_min == pytest.approx(truth.exposure_min)


def test_settings_reach_the_camera_and_read_back(camera: AlpacaCamera, served: tuple[AlpacaServer, Bench]) -> None:
    _, bench = served
    wanted = CameraSettings(gain=120, offset=30, binning=2, readout_mode=1, temperature=-5.0)
    camera.apply(wanted)
    assert camera.read_settings() == wanted
    assert bench.camera.read_settings() == wanted  # the simulated camera itself got them
    bench.clock.sleep(300)
    assert camera.temperature() == pytest.approx(-5.0, abs=0.5)


def test_imagebytes_and_json_give_the_cameras_frame(served: tuple[AlpacaServer, Bench], camera: AlpacaCamera) -> None:
    server, bench = served
    camera.apply(CameraSettings(gain=100, offset=50, binning=2))
    _expose(camera, bench, 1.0, light=False)
    via_imagebytes = camera.read_image()
    json_camera = _open(server, bench, "camera", "?imagebytes=0")
    assert isinstance(json_camera, AlpacaCamera)
    json_camera.connect()
    via_json = json_camera.read_image()
    truth = bench.camera.read_image()
    assert via_imagebytes.dtype == np.uint16 and via_imagebytes.shape == (truth.shape[0], truth.shape[1]) == (107, 160)
    assert np.array_equal(via_imagebytes, truth)
    assert np.array_equal(via_json, truth)
    assert via_imagebytes.flags.c_contiguous


def test_abort_discards_the_exposure(camera: AlpacaCamera, served: tuple[AlpacaServer, Bench]) -> None:
    _, bench = served
    camera.start_exposure(10.0, True)
    bench.clock.sleep(2.0)
    camera.abort_exposure()
    bench.clock.sleep(20.0)
    assert not camera.image_ready()
    with pytest.raises(InvalidOperation) as caught:
        camera.read_image()
    assert caught.value.code == 0x40B


def test_refused_value_carries_number_device_and_answer(camera: AlpacaCamera) -> None:
    with pytest.raises(InvalidValue) as caught:
        camera.apply(CameraSettings(gain=5000, offset=50))
    error = caught.value
    assert error.code == 0x401 and error.sent == "PUT gain Gain=5000"
    assert error.answered is not None and "5000" in error.answered
    assert "sim camera (small)" in str(error) and "0x401" in str(error)


def test_not_connected_is_reported_as_such(served: tuple[AlpacaServer, Bench]) -> None:
    server, bench = served
    transport = AlpacaTransport(AlpacaAddress("127.0.0.1", server.port, "camera", 0), clock=bench.clock)
    with pytest.raises(NotConnected) as caught:
        transport.get("gain")
    assert caught.value.code == 0x407
    device = _open(server, bench, "camera")
    assert isinstance(device, AlpacaCamera)
    with pytest.raises(NotConnected):
        device.apply(CameraSettings(gain=1, offset=1))


def test_not_implemented_is_not_supported(camera: AlpacaCamera, served: tuple[AlpacaServer, Bench]) -> None:
    server, bench = served
    transport = AlpacaTransport(AlpacaAddress("127.0.0.1", server.port, "camera", 0), clock=bench.clock)
    with pytest.raises(NotSupported) as caught:
        transport.get("gains")
    transport.close()
    assert caught.value.code == 0x400


def test_unknown_device_number_names_the_http_400(served: tuple[AlpacaServer, Bench]) -> None:
    server, bench = served
    device = open_alpaca(f"alpaca://127.0.0.1:{server.port}/camera/3", OpenContext(clock=bench.clock))
    assert isinstance(device, AlpacaCamera)
    with pytest.raises(DeviceError, match="HTTP 400") as caught:
        device.connect()
    assert caught.value.answered is not None and "no camera 3" in caught.value.answered


def test_pre_platform7_devices_connect_through_connected() -> None:
    with served_bench(legacy=True) as (server, bench):
        device = _open(server, bench, "camera")
        assert isinstance(device, AlpacaCamera)
        device.connect()
        assert device.info.width == bench.camera.info.width
        device.disconnect()


# ---- server down, silent, stalling ------------------------------------------------------------


def test_server_gone_is_disconnected_not_a_hang(served: tuple[AlpacaServer, Bench], camera: AlpacaCamera) -> None:
    server, _ = served
    assert camera.image_ready() is False  # the keep-alive connection is in use
    server.stop()
    error = finishes_within(10, camera.image_ready)
    assert isinstance(error, DeviceDisconnected)
    assert "connection refused" in str(error) or "closed the connection" in str(error)


def test_nothing_listening_is_connection_refused() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    device = open_alpaca(f"alpaca://127.0.0.1:{port}/filterwheel/0", OpenContext(clock=VirtualClock()))
    error = finishes_within(10, device.connect)
    assert isinstance(error, DeviceDisconnected) and "connection refused" in str(error)


def test_silent_server_times_out() -> None:
    with scripted_server(lambda conn: None) as port:
        device = open_alpaca(f"alpaca://127.0.0.1:{port}/camera/0?timeout=0.3", OpenContext(clock=VirtualClock()))
        error = finishes_within(10, device.connect)
    assert isinstance(error, DeviceTimeout)
    assert "within 0.3 s" in str(error) and "GET interfaceversion" in str(error)


def test_image_download_stalling_midway_times_out() -> None:
    header = ImageBytesHeader(client_transaction_id=0, dimension1=100, dimension2=100).pack()

    def stall(conn: socket.socket) -> None:
        read_request(conn)
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/imagebytes\r\nContent-Length: {44 + 20000}\r\n\r\n"
        conn.sendall(head.encode() + header + b"\x00" * 5000)  # a quarter of the pixels, then silence

    with scripted_server(stall) as port:
        options = TransportOptions(timeout=0.3)
        transport = AlpacaTransport(AlpacaAddress("127.0.0.1", port, "camera", 0), options, clock=VirtualClock())
        error = finishes_within(10, lambda: transport.image(expected=(100, 100)))
    assert isinstance(error, DeviceTimeout) and "GET imagearray" in str(error)


def test_imagebytes_error_from_another_server_is_a_device_error() -> None:
    body = ImageBytesHeader(error_number=0x407, rank=0).pack() + "Kamera nicht verbunden — Gerät prüfen".encode()

    def answer(conn: socket.socket) -> None:
        read_request(conn)
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/imagebytes\r\nContent-Length: {len(body)}\r\n\r\n"
        conn.sendall(head.encode() + body)

    with scripted_server(answer) as port:
        transport = AlpacaTransport(AlpacaAddress("127.0.0.1", port, "camera", 0), clock=VirtualClock())
        with pytest.raises(NotConnected) as caught:
            transport.image()
    assert caught.value.code == 0x407 and caught.value.answered == "Kamera nicht verbunden — Gerät prüfen"


# ---- cover-calibrator and filter wheel --------------------------------------------------------


def test_cover_calibrator_flow() -> None:
    with served_bench(cover=True) as (server, bench):
        panel = _open(server, bench, "covercalibrator")
        assert isinstance(panel, AlpacaCoverCalibrator)
        panel.connect()
        assert panel.brightness_range == (0, 255) and panel.has_cover
        panel.close_cover()
        assert panel.cover_state() is CoverState.MOVING
        bench.clock.sleep(5)
        assert panel.cover_state() is CoverState.CLOSED
        panel.light_on(180)
        assert panel.light_state() is LightState.SETTLING  # warming up: the sequencer waits
        bench.clock.sleep(10)
        assert panel.light_state() is LightState.READY and panel.brightness() == 180
        panel.light_off()
        assert panel.light_state() is LightState.OFF and panel.brightness() == 0
        with pytest.raises(InvalidValue) as caught:
            panel.light_on(300)
        assert caught.value.code == 0x401
        panel.disconnect()


def test_panel_without_cover_refuses_cover_moves(served: tuple[AlpacaServer, Bench]) -> None:
    server, bench = served
    panel = _open(server, bench, "covercalibrator")
    assert isinstance(panel, AlpacaCoverCalibrator)
    panel.connect()
    assert not panel.has_cover and panel.cover_state() is CoverState.NOT_PRESENT
    with pytest.raises(NotSupported, match="no cover"):
        panel.close_cover()
    panel.disconnect()


def test_filter_wheel_flow(served: tuple[AlpacaServer, Bench]) -> None:
    server, bench = served
    wheel = _open(server, bench, "filterwheel")
    assert isinstance(wheel, AlpacaFilterWheel)
    wheel.connect()
    assert wheel.names() == ["L", "R", "G", "B", "Ha", "OIII", "SII"]
    assert wheel.position() == 0
    wheel.move_to(4)
    assert wheel.position() is None  # Position -1 while moving
    bench.clock.sleep(10)
    assert wheel.position() == 4
    with pytest.raises(InvalidValue, match="no slot 9"):
        wheel.move_to(9)
    wheel.disconnect()


# ---- servers that behave differently ------------------------------------------------------------


def test_a_dropped_keep_alive_connection_is_reopened_once(served: tuple[AlpacaServer, Bench]) -> None:
    server, bench = served
    transport = AlpacaTransport(AlpacaAddress("127.0.0.1", server.port, "camera", 0), clock=bench.clock)
    assert transport.get("name") == bench.camera.name
    server.stop()  # closes the kept-alive connection under the transport
    again = AlpacaServer.for_bench(bench, port=server.port).start()
    try:
        assert transport.get("name") == bench.camera.name
    finally:
        transport.close()
        again.stop()


def test_slow_image_start_is_awaited_up_to_the_download_timeout() -> None:
    frame = np.arange(12, dtype=np.uint16).reshape(3, 4)
    header = ImageBytesHeader(dimension1=4, dimension2=3).pack()
    pixels = np.ascontiguousarray(frame.T).astype("<u2").tobytes()

    def slow(conn: socket.socket) -> None:
        read_request(conn)
        threading.Event().wait(0.6)  # building the image takes longer than the per-read timeout
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/imagebytes\r\nContent-Length: {44 + len(pixels)}\r\n\r\n"
        conn.sendall(head.encode() + header + pixels)

    with scripted_server(slow) as port:
        options = TransportOptions(timeout=0.2, download_timeout=30)
        transport = AlpacaTransport(AlpacaAddress("127.0.0.1", port, "camera", 0), options, clock=VirtualClock())
        assert np.array_equal(transport.image(), frame)
        transport.close()


def test_device_claiming_platform7_without_connect_is_connected_the_old_way() -> None:
    answers = {
        "GET interfaceversion": alpaca_json(2),  # a CoverCalibratorV2 ...
        "PUT connected": alpaca_json(),  # ... that only knows Connected (PUT connect is a 400)
        "GET connected": alpaca_json(True),
        "GET name": alpaca_json("Homebrew panel"),
        "GET calibratorstate": alpaca_json(1),
        "GET maxbrightness": alpaca_json(1023),
        "GET coverstate": alpaca_json(0),
    }
    with scripted_server(lambda conn: answer_each(conn, answers)) as port:
        panel = open_alpaca(f"alpaca://127.0.0.1:{port}/covercalibrator/0", OpenContext(clock=VirtualClock()))
        assert isinstance(panel, AlpacaCoverCalibrator)
        panel.connect()
        assert panel.name == "Homebrew panel" and panel.brightness_range == (0, 1023)


def test_an_error_message_without_error_number_is_still_an_error() -> None:
    status, content_type, _ = alpaca_json()
    body = b'{"Value": 0, "ClientTransactionID": 0, "ErrorNumber": 0, "ErrorMessage": "cooler fault"}'
    with scripted_server(lambda conn: answer_each(conn, {"GET ccdtemperature": (status, content_type, body)})) as port:
        transport = AlpacaTransport(AlpacaAddress("127.0.0.1", port, "camera", 0), clock=VirtualClock())
        with pytest.raises(DeviceError) as caught:
            transport.get("ccdtemperature")
    assert caught.value.answered == "cooler fault" and caught.value.code is None


def test_camera_state_error_fails_the_exposure_even_if_image_ready_stays_false() -> None:
    answers = {"GET imageready": alpaca_json(False), "GET camerastate": alpaca_json(5)}
    with scripted_server(lambda conn: answer_each(conn, answers)) as port:
        camera = open_alpaca(f"alpaca://127.0.0.1:{port}/camera/0", OpenContext(clock=VirtualClock()))
        assert isinstance(camera, AlpacaCamera)
        with pytest.raises(DeviceError, match="the exposure failed") as caught:
            camera.image_ready()
    assert caught.value.answered == "5 (CameraState Error)"
