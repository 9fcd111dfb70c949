"""The simulator's Alpaca server answers the protocol as the Alpaca API Reference says (raw HTTP)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from drivers.alpaca.imagebytes import ImageBytesHeader
from simulators.alpaca.discovery import DiscoveryResponder
from simulators.alpaca.server import AlpacaServer
from simulators.devices.bench import Bench
from tests.support.alpaca import call, connect_all, served_bench

CAMERA = "/api/v1/camera/0"
PANEL = "/api/v1/covercalibrator/0"
WHEEL = "/api/v1/filterwheel/0"


@pytest.fixture
def served() -> Iterator[tuple[AlpacaServer, Bench]]:
    with served_bench(seed=2) as pair:
        yield pair


@pytest.fixture
def server(served: tuple[AlpacaServer, Bench]) -> AlpacaServer:
    return served[0]


@pytest.fixture(scope="module")
def untouched() -> Iterator[AlpacaServer]:
    """One server for requests that must not change anything (they are all refused)."""
    with served_bench(seed=2) as (server, _):
        yield server


# ---- management API ---------------------------------------------------------------------------


def test_management_api(server: AlpacaServer) -> None:
    versions = call(server, "GET", "/management/apiversions", {"ClientTransactionID": 11})
    assert versions.status == 200 and versions.content_type.startswith("application/json")
    assert versions.json()["Value"] == [1] and versions.json()["ClientTransactionID"] == 11

    description = call(server, "GET", "/management/v1/description").json()["Value"]
    assert set(description) == {"ServerName", "Manufacturer", "ManufacturerVersion", "Location"}

    devices = call(server, "GET", "/management/v1/configureddevices").json()["Value"]
    assert [(d["DeviceType"], d["DeviceNumber"]) for d in devices] == [
        ("Camera", 0),
        ("CoverCalibrator", 0),
        ("FilterWheel", 0),
    ]
    assert len({d["UniqueID"] for d in devices}) == 3 and all(d["DeviceName"] for d in devices)


def test_unknown_management_path_is_400(server: AlpacaServer) -> None:
    assert call(server, "GET", "/management/v2/configureddevices").status == 400


# ---- transaction ids --------------------------------------------------------------------------


def test_client_transaction_id_is_echoed_and_server_ids_increase(server: AlpacaServer) -> None:
    first = call(server, "GET", f"{CAMERA}/name", {"ClientID": 5, "ClientTransactionID": 41}).json()
    second = call(server, "GET", f"{CAMERA}/name", {"clientid": 5, "clienttransactionid": 42}).json()
    assert (first["ClientTransactionID"], second["ClientTransactionID"]) == (41, 42)  # GET names: any case
    assert second["ServerTransactionID"] > first["ServerTransactionID"] > 0
    assert first["ErrorNumber"] == 0 and first["ErrorMessage"] == ""


def test_put_form_names_are_case_sensitive(server: AlpacaServer) -> None:
    exact = call(server, "PUT", f"{CAMERA}/connected", {"Connected": "true", "ClientTransactionID": 8}).json()
    assert exact["ClientTransactionID"] == 8 and exact["ErrorNumber"] == 0
    # a wrongly cased ClientTransactionID is not a ClientTransactionID: echoed as 0
    wrong_id = call(server, "PUT", f"{CAMERA}/connected", {"Connected": "true", "clienttransactionid": 9}).json()
    assert wrong_id["ClientTransactionID"] == 0 and wrong_id["ErrorNumber"] == 0
    # a wrongly cased required parameter is missing
    wrong = call(server, "PUT", f"{CAMERA}/connected", {"connected": "true"})
    assert wrong.status == 400 and "Connected" in wrong.text


def test_missing_client_ids_are_zero(server: AlpacaServer) -> None:
    reply = call(server, "GET", f"{CAMERA}/interfaceversion").json()
    assert reply["ClientTransactionID"] == 0 and reply["Value"] == 4


# ---- malformed requests: 400 with a text body ---------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/api/v1/camera/1/name", {}),  # no camera 1
        ("GET", "/api/v1/camera/A/name", {}),
        ("GET", "/api/v1/camera/-1/name", {}),
        ("GET", "/api/v1/CAMERA/0/name", {}),  # paths are lower case
        ("GET", "/api/v1/telescope/0/name", {}),
        ("GET", "/api/v2/camera/0/name", {}),
        ("GET", "/apii/v1/camera/0/name", {}),
        ("GET", f"{CAMERA}/canslew", {}),  # not a camera member
        ("GET", f"{CAMERA}/startexposure", {}),  # a PUT member
        ("PUT", f"{CAMERA}/cameraxsize", {}),  # a GET member
        ("POST", f"{CAMERA}/connected", {"Connected": "true"}),
        ("DELETE", f"{CAMERA}/connected", {}),
        ("HEAD", f"{CAMERA}/connected", {}),
        ("PUT", f"{CAMERA}/connected", {"Connected": "asdqwe"}),
        ("PUT", f"{CAMERA}/connected", {"Connected": "123456"}),
        ("PUT", f"{CAMERA}/connected", {"Connected": ""}),
        ("PUT", f"{CAMERA}/startexposure", {"Duration": "1.0"}),  # Light missing
        ("PUT", f"{CAMERA}/startexposure", {"Duration": "1,5", "Light": "true"}),  # no locale commas
        ("PUT", f"{PANEL}/calibratoron", {"Brightness": "asduio6fghZZ"}),
        ("PUT", f"{CAMERA}/pulseguide", {"Direction": "north", "Duration": "1"}),  # checked even if not implemented
        ("GET", f"{CAMERA}/name", {"ClientID": "-12345"}),
        ("GET", f"{CAMERA}/name", {"ClientTransactionID": "qweqwe"}),
        ("GET", f"{CAMERA}/name", {"ClientTransactionID": "   "}),
        ("PUT", f"{CAMERA}/connected", {"Connected": "true", "ClientID": ""}),
        ("GET", "/favicon.ico", {}),
    ],
)
def test_malformed_requests_get_400_with_a_reason(
    untouched: AlpacaServer, method: str, path: str, params: dict[str, Any]
) -> None:
    reply = call(untouched, method, path, params)
    assert reply.status == 400
    assert reply.content_type.startswith("text/plain") and reply.text.strip()


# ---- ASCOM errors: 200 with ErrorNumber ---------------------------------------------------------


def test_not_connected_is_error_0x407(server: AlpacaServer) -> None:
    for path in (f"{CAMERA}/gain", f"{PANEL}/brightness", f"{WHEEL}/position"):
        reply = call(server, "GET", path)
        assert reply.status == 200
        assert reply.json()["ErrorNumber"] == 0x407 and "not connected" in reply.json()["ErrorMessage"]


def test_invalid_values_not_implemented_and_invalid_operations(server: AlpacaServer) -> None:
    connect_all(server)
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("PUT", f"{CAMERA}/gain", {"Gain": 5000}, 0x401),
        ("PUT", f"{CAMERA}/binx", {"BinX": 9}, 0x401),
        ("PUT", f"{CAMERA}/startexposure", {"Duration": -1, "Light": "true"}, 0x401),
        ("PUT", f"{PANEL}/calibratoron", {"Brightness": 256}, 0x401),
        ("PUT", f"{WHEEL}/position", {"Position": 7}, 0x401),
        ("GET", f"{CAMERA}/gains", {}, 0x400),
        ("PUT", f"{CAMERA}/pulseguide", {"Direction": 0, "Duration": 1}, 0x400),
        ("PUT", f"{CAMERA}/stopexposure", {}, 0x400),
        ("PUT", f"{PANEL}/opencover", {}, 0x400),  # no cover on this panel
        ("PUT", f"{CAMERA}/action", {"Action": "x", "Parameters": ""}, 0x400),
        ("GET", f"{CAMERA}/imagearray", {}, 0x40B),  # no exposure yet
        ("GET", f"{CAMERA}/lastexposureduration", {}, 0x40B),
    ]
    for method, path, params, number in cases:
        reply = call(server, method, path, params)
        assert reply.status == 200, path
        body = reply.json()
        assert body["ErrorNumber"] == number, (path, body)
        assert body["ErrorMessage"], path
        assert "Value" not in body


def test_imagebytes_error_is_an_imagebytes_response(server: AlpacaServer) -> None:
    connect_all(server)
    reply = call(
        server, "GET", f"{CAMERA}/imagearray", {"ClientTransactionID": 77}, headers={"Accept": "application/imagebytes"}
    )
    assert reply.status == 200 and reply.content_type == "application/imagebytes"
    header = ImageBytesHeader.unpack(reply.body)
    assert header.error_number == 0x40B and header.client_transaction_id == 77
    assert "no exposure" in reply.body[header.data_start :].decode("utf-8")


def test_image_as_imagebytes_and_json_is_the_cameras_frame(served: tuple[AlpacaServer, Bench]) -> None:
    server, bench = served
    connect_all(server)
    assert (
        call(server, "PUT", f"{CAMERA}/startexposure", {"Duration": 0.5, "Light": "false"}).json()["ErrorNumber"] == 0
    )
    assert call(server, "GET", f"{CAMERA}/camerastate").json()["Value"] == 2  # exposing
    assert call(server, "GET", f"{CAMERA}/imageready").json()["Value"] is False
    bench.clock.sleep(1.0)
    assert call(server, "GET", f"{CAMERA}/imageready").json()["Value"] is True
    truth = bench.camera.read_image()
    raw = call(server, "GET", f"{CAMERA}/imagearray", headers={"Accept": "application/imagebytes"})
    header = ImageBytesHeader.unpack(raw.body)
    assert (header.dimension1, header.dimension2, header.rank) == (truth.shape[1], truth.shape[0], 2)
    pixels = np.frombuffer(raw.body[header.data_start :], dtype="<u2").reshape(header.dimension1, header.dimension2)
    assert np.array_equal(pixels.T, truth)
    as_json = call(server, "GET", f"{CAMERA}/imagearray").json()
    assert as_json["Type"] == 2 and as_json["Rank"] == 2
    assert np.array_equal(np.array(as_json["Value"], dtype=np.uint16).T, truth)
    assert call(server, "GET", f"{CAMERA}/lastexposureduration").json()["Value"] == 0.5
    start = call(server, "GET", f"{CAMERA}/lastexposurestarttime").json()["Value"]
    assert start.startswith("2026-01-01T00:00:")


def test_subframe_is_cut_from_the_binned_frame(served: tuple[AlpacaServer, Bench]) -> None:
    server, bench = served
    connect_all(server)
    for name, value in (("BinX", 2), ("StartX", 10), ("StartY", 5), ("NumX", 40), ("NumY", 30)):
        assert call(server, "PUT", f"{CAMERA}/{name.lower()}", {name: value}).json()["ErrorNumber"] == 0
    call(server, "PUT", f"{CAMERA}/startexposure", {"Duration": 0.1, "Light": "true"})
    bench.clock.sleep(0.5)
    image = np.array(call(server, "GET", f"{CAMERA}/imagearray").json()["Value"], dtype=np.uint16).T
    assert np.array_equal(image, bench.camera.read_image()[5:35, 10:50])
    call(server, "PUT", f"{CAMERA}/numx", {"NumX": 1000})
    too_wide = call(server, "PUT", f"{CAMERA}/startexposure", {"Duration": 0.1, "Light": "true"}).json()
    assert too_wide["ErrorNumber"] == 0x401 and "does not fit" in too_wide["ErrorMessage"]


def test_device_state_lists_operational_values_with_a_timestamp(server: AlpacaServer) -> None:
    connect_all(server)
    state = {item["Name"]: item["Value"] for item in call(server, "GET", f"{PANEL}/devicestate").json()["Value"]}
    assert set(state) == {
        "Brightness",
        "CalibratorChanging",
        "CalibratorState",
        "CoverMoving",
        "CoverState",
        "TimeStamp",
    }
    assert state["CalibratorState"] == 1 and state["CoverState"] == 0  # off, no cover
    camera = {item["Name"] for item in call(server, "GET", f"{CAMERA}/devicestate").json()["Value"]}
    assert {"CameraState", "CCDTemperature", "ImageReady", "PercentCompleted", "TimeStamp"} <= camera


def test_connect_and_disconnect_platform7(server: AlpacaServer) -> None:
    assert call(server, "PUT", f"{WHEEL}/connect").json()["ErrorNumber"] == 0
    assert call(server, "GET", f"{WHEEL}/connecting").json()["Value"] is False
    assert call(server, "GET", f"{WHEEL}/connected").json()["Value"] is True
    assert call(server, "GET", f"{WHEEL}/names").json()["Value"] == ["L", "R", "G", "B", "Ha", "OIII", "SII"]
    assert call(server, "PUT", f"{WHEEL}/disconnect").json()["ErrorNumber"] == 0
    assert call(server, "GET", f"{WHEEL}/connected").json()["Value"] is False


def test_legacy_devices_answer_as_platform6() -> None:
    with served_bench(legacy=True) as (server, _):
        assert call(server, "GET", f"{CAMERA}/interfaceversion").json()["Value"] == 3
        assert call(server, "GET", f"{PANEL}/interfaceversion").json()["Value"] == 1
        assert call(server, "GET", f"{WHEEL}/interfaceversion").json()["Value"] == 2
        assert call(server, "PUT", f"{CAMERA}/connect").status == 400
        assert call(server, "GET", f"{PANEL}/calibratorchanging").status == 400
        assert call(server, "PUT", f"{CAMERA}/connected", {"Connected": "True"}).json()["ErrorNumber"] == 0


def test_setup_page(server: AlpacaServer) -> None:
    page = call(server, "GET", "/setup")
    assert page.status == 200 and page.content_type.startswith("text/html") and "Camera 0" in page.text


def test_discovery_answers_on_loopback_only(server: AlpacaServer) -> None:
    responder = DiscoveryResponder(server.port, port=0).start()
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(5)
        sock.sendto(b"alpacadiscovery1", ("127.0.0.1", responder.port))
        reply, sender = sock.recvfrom(1024)
        assert json.loads(reply) == {"AlpacaPort": server.port} and sender[0] == "127.0.0.1"
        sock.settimeout(0.3)
        sock.sendto(b"hello", ("127.0.0.1", responder.port))
        with pytest.raises(TimeoutError):
            sock.recvfrom(1024)
        sock.close()
    finally:
        responder.stop()
