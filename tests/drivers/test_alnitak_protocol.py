"""The Alnitak frame codec: what a command looks like on the wire and which replies are accepted."""

from __future__ import annotations

import pytest

from drivers.alnitak.protocol import (
    MalformedReply,
    Status,
    decode_reply,
    decode_status,
    encode_command,
    product_name,
    split_line,
)


@pytest.mark.parametrize(
    ("letter", "value", "filler", "eol", "wire"),
    [
        ("P", None, "000", "lf", b">P000\n"),
        ("S", None, "OOO", "cr", b">SOOO\r"),
        ("B", 7, "000", "crlf", b">B007\r\n"),
        ("B", 255, "000", "lf", b">B255\n"),
        ("J", None, "000", "lf", b">J000\n"),
    ],
)
def test_commands_are_fixed_length_with_value_or_filler(
    letter: str, value: int | None, filler: str, eol: str, wire: bytes
) -> None:
    assert encode_command(letter, value, filler=filler, eol=eol) == wire


def test_command_values_outside_the_byte_range_are_refused() -> None:
    with pytest.raises(ValueError, match="0-255"):
        encode_command("B", 256)
    with pytest.raises(ValueError, match="letter"):
        encode_command("X")


@pytest.mark.parametrize("filler", ["000", "OOO"])
def test_replies_with_either_filler_are_accepted(filler: str) -> None:
    reply = decode_reply(f"*L99{filler}".encode(), "L")
    assert (reply.letter, reply.product_id, reply.data) == ("L", 99, filler)


def test_values_and_status_fields_decode() -> None:
    assert decode_reply(b"*B19128", "B").number() == 128
    assert decode_reply(b"*V99213", "V").number() == 213
    status = decode_status(decode_reply(b"*S99112", "S"))
    assert status == Status(motor_running=True, light_on=True, cover=Status.COVER_OPEN)


@pytest.mark.parametrize(
    ("line", "expected", "why"),
    [
        (b"*J99128", "B", "answers >J"),  # a stale reply to another command
        (b"*P99ABC", "P", "filler"),
        (b"*B99300", "B", "outside 0-255"),
        (b"*J99x12", "J", "3 digits"),
        (b"*S99214", "S", "status fields"),
        (b"*P9900", "P", "not an Alnitak reply"),
        (b"\x7f\xfe#?!", "P", "not an Alnitak reply"),
        (b"P99000", "P", "not an Alnitak reply"),
    ],
)
def test_malformed_or_unexpected_replies_are_rejected(line: bytes, expected: str, why: str) -> None:
    with pytest.raises(MalformedReply, match=why):
        decode_reply(line, expected)


def test_noise_before_the_reply_is_tolerated() -> None:
    assert decode_reply(b"\x00\xff*D15000", "D").product_id == 15


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
def test_lines_split_on_lf_crlf_or_cr(ending: bytes) -> None:
    framed = split_line(b"*P99000" + ending + b"*J99001\n")
    assert framed is not None and framed[0] == b"*P99000"
    assert split_line(framed[1]) == (b"*J99001", b"")
    # the LF left over from a CR LF reply is skipped, not taken for an empty line
    assert split_line(b"\n*J99010\r") == (b"*J99010", b"")


def test_an_unterminated_line_is_not_yet_a_line() -> None:
    assert split_line(b"*P99000") is None
    assert split_line(b"\r\n") is None


def test_product_names() -> None:
    assert product_name(99) == "Flip-Flat"
    assert product_name(98) == "Flip-Mask"
    assert product_name(10) == "Flat-Man XL"
    assert "compatible" in product_name(42)
