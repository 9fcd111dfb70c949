"""Compile a sequence file into the plan: a flat list of Steps, defaults resolved, every dark-flat step bound
to its flat set, then run through the state machine with no devices. Nothing below the plan reads YAML;
nothing here touches a device (the registry tells what the equipment URLs say, e.g. a wheel's filters, and
refuses a malformed URL as opening it would). Whatever the run would refuse for the file's own sake (its
URLs, its output directory and file names) is refused here, so `flatseq check` catches it.
"""

from __future__ import annotations

from pathlib import Path

from drivers.errors import ConfigError
from drivers.registry import Registry, default_registry
from drivers.urls import scheme_of, url_shown
from sequencer.plan.compact import compact_steps
from sequencer.plan.explicit import ExplicitCompiler
from sequencer.plan.loader import Located, SequenceFileError, load_file, load_text
from sequencer.plan.machine import validate_plan
from sequencer.plan.model import Plan
from sequencer.plan.naming import check_output
from sequencer.plan.profiles import resolve_profile
from sequencer.plan.schema import MANUAL_LIGHT, SKY_LIGHT, EquipmentModel, SequenceModel
from sequencer.plan.sets import SetBuilder
from sequencer.plan.validation import validate


def load_plan(path: str | Path, registry: Registry | None = None) -> Plan:
    """Read, validate and compile a sequence file; every error names file:line:column and the field."""
    located = load_file(path)
    return compile_located(located, located.text, registry)


def load_plan_text(text: str, file: str = "<string>", registry: Registry | None = None) -> Plan:
    return compile_located(load_text(text, file), text, registry)


def compile_located(located: Located, text: str = "", registry: Registry | None = None) -> Plan:
    if not isinstance(located.data, dict):
        raise located.error((), "a sequence file must be a mapping of keys (name, equipment, camera, ...)")
    profile = resolve_profile(located)
    model = validate(located, SequenceModel, located.data, ())
    registry = registry or default_registry()
    _check_equipment(profile or located, model.equipment, registry)
    _check_sky(located, model)
    wheel = model.equipment.filter_wheel
    builder = SetBuilder(located, model, registry.facts(wheel).filter_names if wheel else None)
    steps = compact_steps(builder) if model.flat_sets is not None else ExplicitCompiler(builder).steps()
    check_output(located, model.output, builder.sets.values())
    plan = Plan(
        name=model.name,
        file=located.file,
        equipment=_equipment(model),
        camera=model.camera,
        output=model.output,
        sets=builder.sets,
        steps=steps,
        settle_on=model.settle.after_light_on,
        settle_off=model.settle.after_light_off,
        warnings=builder.warnings,
        text=text,
    )
    validate_plan(plan)
    return plan


def _equipment(model: SequenceModel) -> dict[str, str]:
    """The equipment's URLs by role (`manual` spelled one way, whatever its case)."""
    urls = {k: v for k, v in model.equipment.model_dump().items() if v}
    for word in (MANUAL_LIGHT, SKY_LIGHT):
        if urls["panel"].strip().lower() == word:
            urls["panel"] = word
    return urls


def _check_sky(located: Located, model: SequenceModel) -> None:
    """`panel: sky` and a `sky:` section go together, in the compact form."""
    sky = model.equipment.panel.strip().lower() == SKY_LIGHT
    if sky and model.sky is None:
        raise located.error(
            ("equipment", "panel"),
            "equipment.panel: sky flats need a sky: section (site: {latitude, longitude, elevation}, when: dusk)",
        )
    if not sky and model.sky is not None:
        raise located.error(("sky",), "sky: only with panel: sky (sky flats)")
    if sky and model.steps is not None:
        raise located.error(("steps",), "steps: sky flats take the compact form (flat_sets:), not explicit steps")


def _check_equipment(located: Located, equipment: EquipmentModel, registry: Registry) -> None:
    """Every URL has a known scheme, and its scheme finds nothing wrong with it (`Scheme.facts`); `located` is
    the file the equipment is written in (the sequence, or its profile)."""
    for role, url in equipment.model_dump().items():
        if not url or (role == "panel" and url.strip().lower() in (MANUAL_LIGHT, SKY_LIGHT)):
            continue
        path = ("equipment", role)
        line, column = located.where(path, value=True)
        try:
            known = registry.knows(url)
            if known:
                registry.facts(url)
        except ConfigError as exc:  # no scheme at all, or a URL its scheme refuses
            raise SequenceFileError(located.file, line, column, f"equipment.{role}: {exc}") from None
        if not known:
            raise located.error(
                path,
                f"equipment.{role}: unknown equipment scheme {scheme_of(url)!r} in {url_shown(url)} "
                f"(known: {', '.join(registry.schemes())})",
            )
