"""Every light is untrusted: a damaged header is one line naming the file (and the keyword), listed and skipped
by `flatseq plan`, never a crash; the header reader reads blocks up to END and never the pixels."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from sequencer.calibration.headercards import BLOCK, read_cards
from sequencer.calibration.lights import scan_lights
from sequencer.cli import main
from tests.support.lights import nina, write_light


def _card(key: str, value: str) -> bytes:
    return f"{key:<8}= {value:>20}".ljust(80).encode()


def _raw(path: Path, *cards: bytes, end: bool = True) -> Path:
    body = _card("SIMPLE", "T") + b"".join(cards) + (b"END".ljust(80) if end else b"")
    path.write_bytes(body.ljust(((len(body) + BLOCK - 1) // BLOCK) * BLOCK, b" "))
    return path


@pytest.mark.parametrize(
    ("cards", "reason"),
    [
        ((_card("IMAGETYP", "'LIGHT'"), _card("NAXIS", "2"), _card("NAXIS1", "10"), _card("NAXIS2", "10"),
          _card("EXPTIME", "NaN")), "EXPTIME: the value 'NaN' is not a FITS value"),
        ((_card("IMAGETYP", "'LIGHT'"), _card("NAXIS", "2"), _card("NAXIS1", "10"), _card("NAXIS2", "10"),
          _card("XBINNING", "1e300")), "XBINNING = 1e+300 is not a whole number from 1 to 64"),
        ((_card("IMAGETYP", "'LIGHT'"), _card("NAXIS", "2"), _card("NAXIS1", "10"), _card("NAXIS2", "10"),
          _card("FILTER", "'Ha")), "FILTER: a string with no closing quote"),
        ((_card("IMAGETYP", "'LIGHT'"), _card("NAXIS", "1"), _card("NAXIS1", "10")), "NAXIS = 1, expected an image"),
        ((_card("IMAGETYP", "'LIGHT'"), _card("NAXIS", "2"), _card("NAXIS1", "10"), _card("NAXIS2", "10"),
          _card("GAIN", "12.5")), "GAIN = 12.5 is not a camera setting (a whole number)"),
        ((_card("IMAGETYP", "'LIGHT'"), _card("NAXIS", "2"), _card("NAXIS1", "10"), _card("NAXIS2", "10"),
          _card("CCD-TEMP", "-300.0")), "CCD-TEMP = -300 is below -273.15"),
    ],
)  # fmt: skip
def test_a_damaged_card_names_the_file_and_the_keyword(tmp_path: Path, cards: tuple[bytes, ...], reason: str) -> None:
    path = _raw(tmp_path / "light.fits", *cards)
    scan = scan_lights([tmp_path])
    assert scan.lights == []
    assert [s.reason for s in scan.skipped] == [f"{path}: {reason}"]


def test_files_that_are_no_fits_header(tmp_path: Path) -> None:
    (tmp_path / "empty.fits").write_bytes(b"")
    (tmp_path / "short.fits").write_bytes(_card("SIMPLE", "T"))
    _raw(tmp_path / "no_end.fits", *[_card(f"K{n}", "1") for n in range(36 * 100)], end=False)
    (tmp_path / "text.fit").write_text("hello\n" * 1000)
    (tmp_path / "bad.fits.gz").write_bytes(b"\x1f\x8b not really gzip")
    reasons = sorted(s.reason.split(": ", 1)[1] for s in scan_lights([tmp_path]).skipped)
    assert reasons[1:] == [
        "no END card in the first 100 header blocks: not a FITS header",
        "not a FITS file (an empty file)",
        "not a FITS file (ends inside its header)",
        "not a FITS file (it does not start with SIMPLE = T)",
    ]
    assert reasons[0].startswith("cannot be read (")


def test_only_the_header_blocks_are_read_and_gzip_works(tmp_path: Path) -> None:
    path = write_light(tmp_path / "big.fits", nina("L"), size=(2000, 1500))  # 6 MB of pixels
    reads: list[int] = []
    original = Path.open

    def counting_open(self: Path, *args: object, **kwargs: object) -> Any:
        handle = original(self, *args, **kwargs)  # type: ignore[call-overload]
        read = handle.read

        def counted(size: int = -1) -> bytes:
            reads.append(size)
            data: bytes = read(size)
            return data

        handle.read = counted
        return handle

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Path, "open", counting_open)
        cards = read_cards(path)
    assert cards.value("FILTER") == "L" and cards.value("ROTATOR") == 90.0
    assert reads and all(size == BLOCK for size in reads) and len(reads) <= 3
    gz = tmp_path / "big.fits.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert read_cards(gz).value("GAIN") == 100


def test_plan_lists_and_skips_damaged_lights_and_plans_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_light(tmp_path / "good.fits", nina("L"))
    _raw(tmp_path / "bad.fits", _card("IMAGETYP", "'LIGHT'"), _card("NAXIS", "2"), _card("NAXIS1", "10"),
         _card("NAXIS2", "10"), _card("OFFSET", "'x'"))  # fmt: skip
    assert main(["plan", str(tmp_path), "-o", str(tmp_path / "f.yaml")]) == 0
    out = capsys.readouterr().out
    assert f"skipped: {tmp_path / 'bad.fits'}: OFFSET = 'x' is not a number" in out
    assert "Traceback" not in out


def test_a_folder_that_does_not_exist_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nowhere: no such file or directory" in err
