"""Hostile requests to the simulator's Alpaca server, over raw sockets on 127.0.0.1: a body cut short or
chunked is refused with 400 and never executed (a dying client must not switch the panel on), numbers out of
range are 400 with a text reason and no traceback, and many clients at once are all answered."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from drivers.base import LightState
from sequencer.cli import main
from simulators.alpaca.server import AlpacaServer
from simulators.devices.bench import Bench
from tests.support.alpaca import call, connect_all, served_bench
from tests.support.refusals import one_error_line

PANEL = "/api/v1/covercalibrator/0"
CAMERA = "/api/v1/camera/0"


@pytest.fixture
def served() -> Iterator[tuple[AlpacaServer, Bench]]:
    with served_bench(seed=2) as (server, bench):
        connect_all(server)
        yield server, bench


class Answer:
    def __init__(self, status: int, body: bytes, closed: bool | None) -> None:
        self.status, self.body, self.closed = status, body, closed

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def raw(server: AlpacaServer, request: bytes, *, end_after_sending: bool = False, closes: bool = False) -> Answer:
    """Send `request` as it is (ending the sending side if asked, as a client that died does) and read one
    response; with `closes`, also whether the server then closed the connection (else `closed` is None)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(request)
        if end_after_sending:
            conn.shutdown(socket.SHUT_WR)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            assert chunk, f"no answer to {request[:60]!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
        while len(body) < length:
            chunk = conn.recv(65536)
            assert chunk, "the answer was cut short"
            body += chunk
        closed = conn.recv(1) == b"" if closes else None
        return Answer(int(lines[0].split()[1]), body[:length], closed)


def put(path: str, body: bytes, *headers: str) -> bytes:
    head = [f"PUT {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/x-www-form-urlencoded", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def light_is_off(server: AlpacaServer, bench: Bench) -> bool:
    state = call(server, "GET", f"{PANEL}/calibratorstate").json()["Value"]
    return bool(state == 1 and bench.panel.light_state() is LightState.OFF)


def test_a_body_cut_short_is_400_and_never_executed(served: tuple[AlpacaServer, Bench]) -> None:
    server, bench = served
    body = b"Brightness=100&ClientTransactionID=7"
    answer = raw(server, put(f"{PANEL}/calibratoron", body, "Content-Length: 100"), end_after_sending=True, closes=True)
    assert answer.status == 400 and answer.closed
    assert answer.text == f"the body ended after {len(body)} of its 100 bytes; nothing was done"
    assert light_is_off(server, bench), "a half-sent CalibratorOn switched the panel on"


def test_a_chunked_body_is_400_never_executed_nor_read_as_a_second_request(
    served: tuple[AlpacaServer, Bench],
) -> None:
    server, bench = served
    chunked = b"e\r\nBrightness=100\r\n0\r\n\r\n"
    answer = raw(server, put(f"{PANEL}/calibratoron", chunked, "Transfer-Encoding: chunked"), closes=True)
    assert answer.status == 400 and answer.closed
    assert "chunked (Transfer-Encoding) bodies are not accepted" in answer.text
    assert light_is_off(server, bench)


@pytest.mark.parametrize(
    "lengths",
    [("Content-Length: 14", "Content-Length: 3"), ("Content-Length: -14",), ("Content-Length: 1e3",)],
    ids=["conflicting", "negative", "not-a-number"],
)
def test_a_bad_content_length_is_400_and_never_executed(
    served: tuple[AlpacaServer, Bench], lengths: tuple[str, ...]
) -> None:
    server, bench = served
    answer = raw(server, put(f"{PANEL}/calibratoron", b"Brightness=100", *lengths), closes=True)
    assert answer.status == 400 and answer.closed
    assert "Content-Length" in answer.text
    assert light_is_off(server, bench)


def get(target: str) -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode("latin-1")


def form(path: str, body: str) -> bytes:
    return put(path, body.encode(), f"Content-Length: {len(body)}")


HUGE = "9" * 5000
BAD_NUMBERS: list[tuple[str, bytes, str, str]] = [
    ("5000-digit-client-id", get(f"{CAMERA}/name?ClientID={HUGE}"), "ClientID='999", "not an unsigned 32-bit integer"),
    (
        "unicode-digit-id",
        get(f"{CAMERA}/name?ClientTransactionID=%C2%B2"),
        "ClientTransactionID='²'",
        "not an unsigned",
    ),
    ("5000-digit-gain", form(f"{CAMERA}/gain", f"Gain={'1' * 5000}"), "1... (5002 characters)", "outside the 32-bit"),
    ("arabic-digits", form(f"{CAMERA}/gain", "Gain=%D9%A1%D9%A2"), "parameter Gain='١٢'", "is not an integer"),
    ("underscore", form(f"{PANEL}/calibratoron", "Brightness=1_0"), "Brightness='1_0'", "is not an integer"),
    ("unicode-device", get("/api/v1/camera/\xb2/name"), "device number '²'", "is not a non-negative integer"),
]


@pytest.mark.parametrize(("name", "request_bytes", "shown", "reason"), BAD_NUMBERS, ids=[b[0] for b in BAD_NUMBERS])
def test_numbers_out_of_range_are_400_with_a_reason_and_no_traceback(
    served: tuple[AlpacaServer, Bench],
    capfd: pytest.CaptureFixture[str],
    name: str,
    request_bytes: bytes,
    shown: str,
    reason: str,
) -> None:
    server, bench = served
    answer = raw(server, request_bytes)
    assert answer.status == 400, answer.text
    assert shown in answer.text and reason in answer.text, answer.text
    assert len(answer.text) < 300, "the value is not echoed whole"
    assert light_is_off(server, bench)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


def test_many_clients_at_once_are_all_answered(served: tuple[AlpacaServer, Bench]) -> None:
    server, _ = served
    statuses: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        status = call(server, "GET", f"{CAMERA}/name").status
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=client) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 100


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["sim", "alpaca", "--port", "99999"], "cannot serve Alpaca on 127.0.0.1:99999: bind(): port must be 0-65535"),
        (["sim", "alnitak", "--tcp", "99999"], "cannot serve Alnitak on 127.0.0.1:99999: bind(): port must be"),
        (["sim", "alnitak", "--firmware", "5000"], "firmware version must be 000-999, not 5000"),
        (["sim", "alpaca", "--seed", "-1"], "sim option seed=-1: expected an integer from 0 to 4294967295"),
        (["sim", "alpaca", "--option", "seed=3"], "--option 'seed=3': give the seed with --seed"),
        (["sim", "alpaca", "--fault", "noon=kill"], "--fault no moment 'noon' (known: connect, light_on, light_off"),
        (["sim", "alpaca", "--fault", "lit_exposure:0=kill"], "the count after ':' is a whole number from 1"),
        (["sim", "alpaca", "--fault", "light_off=panel.melted"], "no action 'panel.melted' (known: freeze, kill"),
        (["sim", "alpaca", "--fault", "light_off"], "expected MOMENT[:N]=ACTION, e.g. lit_exposure:3=freeze"),
    ],
)
def test_a_server_that_cannot_start_says_why_in_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    assert main(argv) == 2
    error = one_error_line(capsys.readouterr())
    assert needle in error, error
