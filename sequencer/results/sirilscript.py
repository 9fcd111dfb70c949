"""The Siril script written beside each set of a Siril export: the set's master flat, made by Siril the way its
own Mono_Preprocessing script makes one, for Siril 1.0 (Debian's ``siril``; ``siril-cli -d SET -s SCRIPT``).

Siril 1.0 has no ``calibrate`` (1.2 has): the flats are converted into a sequence (``convert``), the master
dark-flat is subtracted where the script would subtract its master bias (``preprocess flat -bias=...``: a
plain subtraction; ``-dark=`` would also run a cosmetic correction), and the calibrated flats are stacked with
multiplicative normalisation and 3σ/3σ rejection (``stack pp_flat rej 3 3 -norm=mul``). With flatseq's master
dark-flat in ``masters/`` the script uses it; without one it first stacks the dark-flats in ``biases/``
(``stack bias rej 3 3 -nonorm``), as Siril's script does with its bias frames.

Every path in the script is relative and made of safe characters (Siril splits a line at spaces).
"""

from __future__ import annotations

SCRIPT_NAME = "master_flat.ssf"
RESULT_NAME = "masterflat_siril"
"""What the script writes in the set's folder (Siril adds ``.fit``)."""


def siril_script(set_label: str, master_dark_flat: str | None) -> str:
    """The script for one exported set; `master_dark_flat` is the master's path relative to the set's folder
    (``masters/NAME.fits``), None to stack ``biases/`` first."""
    lines = [
        "############################################",
        f"# flatseq export for Siril 1.0: the master flat of {set_label}",
        "# from its flats and its dark-flats, as Siril's Mono_Preprocessing makes one.",
        f"# Run: siril-cli -d THIS_FOLDER -s {SCRIPT_NAME}",
        f"# Writes {RESULT_NAME}.fit here (and its work files in process/).",
        "############################################",
        "",
        "requires 1.0.0",
        "",
    ]
    if master_dark_flat is None:
        bias = "bias_stacked"
        lines += [
            "# the master dark-flat from the dark-flats (where Siril's script stacks its bias)",
            "cd biases",
            "convert bias -out=../process",
            "cd ../process",
            "stack bias rej 3 3 -nonorm",
            "cd ..",
            "",
        ]
    else:
        bias = f"../{master_dark_flat}"
        lines.append(f"# the master dark-flat flatseq made: {master_dark_flat}")
    lines += [
        "# the flats, minus the master dark-flat, stacked with multiplicative normalisation",
        "cd flats",
        "convert flat -out=../process",
        "cd ../process",
        f"preprocess flat -bias={bias}",
        f"stack pp_flat rej 3 3 -norm=mul -out=../{RESULT_NAME}",
        "cd ..",
        "close",
        "",
    ]
    return "\n".join(lines)
