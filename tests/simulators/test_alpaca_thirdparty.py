"""A third-party Alpaca client (alpyca, the ASCOM Initiative's Python library) drives the simulator's server."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from alpaca import management
from alpaca.camera import Camera, CameraStates
from alpaca.covercalibrator import CalibratorStatus, CoverCalibrator, CoverStatus
from alpaca.exceptions import (
    InvalidOperationException,
    InvalidValueException,
    NotConnectedException,
    NotImplementedException,
)
from alpaca.filterwheel import FilterWheel

from simulators.alpaca.server import AlpacaServer
from simulators.devices.bench import Bench
from tests.support.alpaca import served_bench


@pytest.fixture
def served() -> Iterator[tuple[AlpacaServer, Bench]]:
    with served_bench(seed=5, cover=True) as pair:
        yield pair


def _address(server: AlpacaServer) -> str:
    return f"127.0.0.1:{server.port}"


def test_alpyca_reads_the_management_api(served: tuple[AlpacaServer, Bench]) -> None:
    server, _ = served
    assert management.apiversions(_address(server)) == [1]
    assert management.description(_address(server))["Manufacturer"] == "flatseq"
    kinds = {(d["DeviceType"], d["DeviceNumber"]) for d in management.configureddevices(_address(server))}
    assert kinds == {("Camera", 0), ("CoverCalibrator", 0), ("FilterWheel", 0)}


def test_alpyca_camera_exposes_and_downloads_imagebytes(served: tuple[AlpacaServer, Bench]) -> None:
    server, bench = served
    camera = Camera(_address(server), 0)
    with pytest.raises(NotConnectedException):
        _ = camera.Gain
    camera.Connect()  # InterfaceVersion 4: a real Platform 7 Connect()
    assert camera.Connecting is False and camera.Connected is True
    assert (camera.CameraXSize, camera.CameraYSize) == (bench.camera.info.width, bench.camera.info.height)
    camera.Gain = 150
    assert camera.Gain == 150
    with pytest.raises(InvalidValueException):
        camera.Gain = 9999
    with pytest.raises(NotImplementedException):
        _ = camera.Gains
    with pytest.raises(InvalidOperationException):
        _ = camera.LastExposureDuration
    camera.StartExposure(2.0, True)
    assert camera.CameraState == CameraStates.cameraExposing
    bench.clock.sleep(3.0)
    assert camera.ImageReady and camera.CameraState == CameraStates.cameraIdle
    image = np.array(camera.ImageArray, dtype=np.uint16).T  # alpyca asks for ImageBytes, returns [x][y]
    assert np.array_equal(image, bench.camera.read_image())
    info = camera.ImageArrayInfo
    assert (info.Rank, info.ImageElementType, info.TransmissionElementType) == (2, 2, 8)
    assert camera.LastExposureDuration == 2.0
    camera.Disconnect()
    assert camera.Connected is False


def test_alpyca_cover_calibrator(served: tuple[AlpacaServer, Bench]) -> None:
    server, bench = served
    panel = CoverCalibrator(_address(server), 0)
    panel.Connect()
    assert panel.MaxBrightness == 255 and panel.CoverState == CoverStatus.Open
    panel.CloseCover()
    assert panel.CoverMoving and panel.CoverState == CoverStatus.Moving
    bench.clock.sleep(5.0)
    assert panel.CoverState == CoverStatus.Closed and not panel.CoverMoving
    panel.CalibratorOn(100)
    assert panel.CalibratorState == CalibratorStatus.NotReady and panel.CalibratorChanging
    bench.clock.sleep(10.0)
    assert panel.CalibratorState == CalibratorStatus.Ready and panel.Brightness == 100
    with pytest.raises(InvalidValueException):
        panel.CalibratorOn(256)
    panel.CalibratorOff()
    assert panel.CalibratorState == CalibratorStatus.Off
    states = {item["Name"] for item in panel.DeviceState}
    assert {"CalibratorState", "CoverState", "TimeStamp"} <= states
    panel.Disconnect()


def test_alpyca_filter_wheel(served: tuple[AlpacaServer, Bench]) -> None:
    server, bench = served
    wheel = FilterWheel(_address(server), 0)
    wheel.Connected = True  # the pre-Platform-7 way still works
    assert wheel.Names == ["L", "R", "G", "B", "Ha", "OIII", "SII"]
    assert wheel.FocusOffsets == [0] * 7
    wheel.Position = 5
    assert wheel.Position == -1
    bench.clock.sleep(10.0)
    assert wheel.Position == 5
    with pytest.raises(InvalidValueException):
        wheel.Position = 12
    wheel.Connected = False
