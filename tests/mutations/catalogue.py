"""The bugs a reviewer planted, one at a time, in the code that carries the guarantees, and the tests that
must catch each. A mutation is a text replacement in one file (its `old` text must occur exactly `count`
times), so the catalogue survives unrelated edits and fails loudly when the code it mutates moves."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str
    catchers: tuple[str, ...]
    count: int = 1


GUARANTEES = "tests/run/test_guarantees.py"

MUTATIONS = (
    Mutation(
        "dark-flats exposed 1.05x their flats",
        "sequencer/run/capture.py",
        "op.start_exposure(exposure, light=False)",
        "op.start_exposure(exposure * 1.05, light=False)",
        (f"{GUARANTEES}::test_flats_and_dark_flats_are_asked_the_same_exposure",),
        count=2,
    ),
    Mutation(
        "settings comparison ignores the offset",
        "drivers/base.py",
        "if name not in ignore and mine != theirs:",
        'if name not in ignore and name != "offset" and mine != theirs:',
        (f"{GUARANTEES}::test_dark_flats_refused_when_any_setting_changed_after_the_flats[offset]",),
    ),
    Mutation(
        "saturation no longer disqualifies a flat",
        "sequencer/run/capture.py",
        "if stats.saturated_fraction > 0:",
        "if False:",
        (f"{GUARANTEES}::test_a_saturated_flat_inside_the_window_is_rejected_as_saturated",),
    ),
    Mutation(
        "a failed set leaves its exposure running",
        "sequencer/run/runner.py",
        'telescope uncapped while the twilight lasts (`keep_sky`): the next filter\'s flats need the sky."""\n'
        "        op.abort_exposure()\n",
        'telescope uncapped while the twilight lasts (`keep_sky`): the next filter\'s flats need the sky."""\n',
        (f"{GUARANTEES}::test_too_many_rejected_flats_stop_the_set_safely_and_the_next_set_runs",),
    ),
    Mutation(
        "no rejection budget",
        "sequencer/run/capture.py",
        "if rejections > budget:",
        "if False:",
        (f"{GUARANTEES}::test_too_many_rejected_flats_stop_the_set_safely_and_the_next_set_runs",),
    ),
    Mutation(
        "the dark-flats' timed exposure is not checked",
        "sequencer/run/darkflats.py",
        "    if abs(timed - flats_seconds) > exposure_tolerance(flats_seconds, resolution):",
        "    if False:",
        (f"{GUARANTEES}::test_dark_flats_the_camera_exposes_five_percent_long_are_refused",),
    ),
    Mutation(
        "headers repeat the requested exposure",
        "sequencer/run/recording.py",
        "exposure=exposure.actual,",
        "exposure=fs.exposure,",
        (f"{GUARANTEES}::test_dark_flats_the_camera_exposes_five_percent_long_are_refused",),
    ),
    Mutation(
        "the settings read back at the set boundary are not compared",
        "sequencer/run/executor.py",
        "diffs = state.settings.differences(actual, ignore=camera.info.unreported)",
        "diffs = []",
        (f"{GUARANTEES}::test_a_camera_that_does_not_take_the_settings_fails_the_set_before_any_light",),
    ),
    Mutation(
        "the light stays on when a set fails",
        "sequencer/run/runner.py",
        "        try:\n            op.light_off()\n        except FlatseqError as exc:\n",
        "        try:\n            pass\n        except FlatseqError as exc:\n",
        (f"{GUARANTEES}::test_a_saturated_flat_inside_the_window_is_rejected_as_saturated",),
    ),
    Mutation(
        "the manifest lists a frame before its file lands",
        "sequencer/output/writer.py",
        "            path = write_fits(job.target, job.frame, job.header)\n",
        "            if self._manifest is not None and isinstance(job.header, FrameHeader):\n"
        "                self._manifest.add_written(job.target, job.header)\n"
        "            path = write_fits(job.target, job.frame, job.header)\n",
        ("tests/output/test_manifest.py::test_a_frame_enters_the_manifest_only_once_its_file_is_whole_on_disk",),
    ),
    Mutation(
        "a set after a cooling timeout takes its flats warm (the settings taken as reached)",
        "sequencer/run/executor.py",
        "            self.op.apply_settings(settings)\n            if settings.temperature is not None:\n",
        "            self.op.apply_settings(settings)\n            self.current_settings = settings\n"
        "            if settings.temperature is not None:\n",
        ("tests/commands/test_dry_run_faults.py::test_a_stuck_cooler_fails_every_set_and_no_flat_is_taken_warm",),
    ),
    Mutation(
        "a hung camera's fault is ignored",
        "simulators/devices/camera.py",
        'return not self._bench.faults.has("camera", "hang") and self._bench.clock.now() >= self._due()',
        "return self._bench.clock.now() >= self._due()",
        ("tests/simulators/test_faults.py::test_hang_through_the_url",),
    ),
    Mutation(
        "dark-flats are not asked the exposure their flats were found to need",
        "sequencer/run/executor.py",
        "            fs,\n            state.exposure,\n            self.recorder,\n",
        "            fs,\n            round(state.exposure * 1.001, 6),\n            self.recorder,\n",
        ("tests/run/test_auto_exposure_run.py::test_dark_flats_take_exactly_the_exposure_found",),
    ),
    Mutation(
        "a light switched by hand is taken as off without asking",
        "sequencer/run/manual.py",
        "        if self._on is False:\n            return\n        self._switch(False)",
        "        self._on = False",
        ("tests/run/test_manual_light.py::test_the_prompts_appear_in_order_and_enter_continues",),
    ),
    Mutation(
        "the exposure search keeps a trial the camera clipped",
        "sequencer/brightness/exposure.py",
        "        if verdict is Verdict.IN_WINDOW:\n            return _result(search, ok=True)",
        "        if verdict is Verdict.IN_WINDOW or (verdict is Verdict.SATURATED and window.contains(stats.mean)):\n"
        "            return _result(search, ok=True)",
        ("tests/brightness/test_exposure.py::test_a_saturated_trial_never_counts_even_with_its_mean_in_the_window",),
    ),
    Mutation(
        "flats for lights in a region are taken full frame",
        "sequencer/run/preflight.py",
        "roi = fs.roi if info.subframe else None",
        "roi = None",
        ("tests/run/test_regions_run.py::test_flats_and_dark_flats_are_read_out_in_the_sets_region",),
    ),
    Mutation(
        "the night's audit ignores the rotation",
        "sequencer/calibration/nightaudit.py",
        "matching = [g for g in settings if _region_match(key, g, light) and _rotation_match(key, g)]",
        "matching = [g for g in settings if _region_match(key, g, light)]",
        ("tests/calibration/test_audit_night.py::test_removing_one_flat_set_reports_exactly_that_configuration",),
    ),
    Mutation(
        "plan merges lights of two rotations",
        "sequencer/calibration/lightkeys.py",
        "rotation=None if light.rotation is None else rotations[light.rotation],",
        "rotation=None,",
        ("tests/calibration/test_plan_lights.py::test_each_configuration_of_the_night_gets_exactly_one_flat_set",),
    ),
)
