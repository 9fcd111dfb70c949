"""The device contract documents itself: every public class, member and enum value of drivers/base.py says
what it promises, so a driver author can implement it from the file alone."""

from __future__ import annotations

import ast
from pathlib import Path

import drivers.base

BASE = Path(drivers.base.__file__)


def _undocumented() -> list[str]:
    tree = ast.parse(BASE.read_text(encoding="utf-8"))
    missing: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
            missing += [node.name] if ast.get_docstring(node) is None else []
        if not isinstance(node, ast.ClassDef):
            continue
        is_enum = any(isinstance(b, ast.Attribute) and b.attr == "Enum" for b in node.bases)
        for i, item in enumerate(node.body):
            if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                if ast.get_docstring(item) is None:
                    missing.append(f"{node.name}.{item.name}")
            elif is_enum and isinstance(item, ast.Assign):
                following = node.body[i + 1] if i + 1 < len(node.body) else None
                documented = (
                    isinstance(following, ast.Expr)
                    and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)
                )
                if not documented:
                    missing.append(f"{node.name}.{ast.unparse(item.targets[0])}")
    return missing


def test_every_public_member_of_the_device_contract_has_a_docstring() -> None:
    assert _undocumented() == []
