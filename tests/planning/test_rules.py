"""The planner's rules: a pure function of the fingerprints, the budget, the task and the user's
settings (no file, clock or machine is read here)."""

from __future__ import annotations

import pytest

from vidlearn.data.fingerprint import DataFingerprint, Spread
from vidlearn.errors import ConfigError
from vidlearn.planning.machine import MachineFingerprint
from vidlearn.planning.rules import Calibration, candidate_families, plan_recipe


def _data(n=36, groups=9, side=(64, 64), fps=(50, 50), dur=(1.0, 3.0), task="classification", classes=4) -> DataFingerprint:
    return DataFingerprint(
        n_videos=n, task=task, classes={f"c{i}": n // classes for i in range(classes)} if task == "classification" else {},
        target_range=(12.0, 36.0) if task == "regression" else None, n_groups=groups, probed=n, sampling="all",
        duration=Spread(dur[0], sum(dur) / 2, dur[1]), short_side=Spread(side[0], side[0], side[1]),
        fps=Spread(fps[0], fps[0], fps[1]), frames=Spread(dur[0] * fps[0], dur[0] * fps[0], dur[1] * fps[1]),
    )


CPU = MachineFingerprint(cores=2, memory_bytes=24 * 2**30, frame_encoder=True)
CPU_BARE = MachineFingerprint(cores=2, memory_bytes=24 * 2**30, frame_encoder=False)


def _cal(step_s=0.05, first=0.2, ev=0.05, bs=4, model="r2plus1d_tiny") -> Calibration:
    return Calibration(model=model, batch_size=bs, num_frames=8, side=56, step_s=step_s, first_pass_s=first, eval_s=ev, videos=6, steps=4)


def _choice(plan, field):
    return next(c for c in plan.choices if c.field == field)


def test_never_upscales_and_caps_large_frames() -> None:
    small = plan_recipe(_data(side=(64, 240)), CPU_BARE, 600, family="scratch_3d")
    assert small.config.decode.short_side == 64  # the smallest native side, not the default 128
    assert small.config.transform.crop_size <= 64
    big = plan_recipe(_data(side=(480, 1080)), CPU_BARE, 600)
    assert big.config.decode.short_side == 128
    low_rate = plan_recipe(_data(fps=(6, 6), dur=(4, 8)), CPU_BARE, 600)
    assert low_rate.config.decode.fps <= 6  # never resampled above the files' rate


def test_clip_is_not_longer_than_the_shortest_video() -> None:
    for dur, fps in [((0.5, 2.0), (25, 25)), ((1.02, 3), (50, 50)), ((0.4, 1.0), (10, 10)), ((5, 9), (30, 30))]:
        for machine in (CPU, CPU_BARE):
            cfg = plan_recipe(_data(dur=dur, fps=fps), machine, 600).config
            span = cfg.sampling.num_frames / cfg.decode.fps
            assert span <= dur[0] + 1e-6, (dur, fps, cfg.sampling.num_frames, cfg.decode.fps)
            assert cfg.decode.fps <= fps[0]


def test_steps_fit_the_budget_for_a_measured_step_time() -> None:
    data = _data(n=36, groups=9)
    fast = plan_recipe(data, CPU_BARE, 600, family="scratch_3d", calibration=_cal(step_s=0.01))
    slow = plan_recipe(data, CPU_BARE, 600, family="scratch_3d", calibration=_cal(step_s=0.2))
    assert fast.config.optim.epochs > slow.config.optim.epochs  # a slower machine gets fewer steps
    for plan in (fast, slow):
        assert plan.predicted_s is not None and plan.predicted_s <= 600
    # the slow one is limited by the budget: its training fills most of it
    assert slow.predicted_s > 0.6 * 600
    assert not plan_recipe(data, CPU_BARE, 30, family="scratch_3d", calibration=_cal(step_s=0.5)).fits
    # the prediction adds up from the measurement: 9 folds x epochs x 8 steps x 0.2 s
    steps = 9 * slow.config.optim.epochs * 8
    assert slow.breakdown["training"] >= steps * 0.2


def test_group_aware_protocol_when_groups_exist_and_cv_when_few_videos() -> None:
    assert plan_recipe(_data(n=36, groups=9), CPU, 600).cv == "leave-one-group-out"
    assert plan_recipe(_data(n=120, groups=40), CPU, 600).cv == "kfold:5"  # many groups: group-aware folds
    assert plan_recipe(_data(n=36, groups=0), CPU, 600).cv == "kfold:5"  # no groups, few videos: CV
    many = plan_recipe(_data(n=240, groups=4), CPU, 600)
    assert many.cv is None and many.config.data.val_fraction == pytest.approx(0.25)  # one whole group held out
    assert plan_recipe(_data(n=5000, groups=0), CPU, 600).cv is None
    mine = plan_recipe(_data(n=36, groups=9), CPU, 600, cv="kfold:3")
    assert mine.cv == "kfold:3" and _choice(mine, "protocol").source == "you"


def test_an_explicit_setting_always_wins_and_the_plan_says_so() -> None:
    explicit = {"decode.short_side": 32, "optim.epochs": 3, "model.name": "c3d_small", "optim.batch_size": 2}
    plan = plan_recipe(_data(), CPU, 600, explicit=explicit, calibration=_cal())
    cfg = plan.config
    assert (cfg.decode.short_side, cfg.optim.epochs, cfg.model.name, cfg.optim.batch_size) == (32, 3, "c3d_small", 2)
    side = _choice(plan, "decode.short_side")
    assert side.source == "you" and "64" in side.reason  # what the plan would have chosen
    assert _choice(plan, "optim.epochs").source == "you"
    assert _choice(plan, "decode.fps").source == "plan"


def test_model_family_follows_the_weights_at_hand_and_the_task() -> None:
    data = _data()
    assert candidate_families(data, CPU, task="classification") == ["frame_features", "motion_features", "scratch_3d"]
    assert candidate_families(data, CPU_BARE, task="classification") == ["motion_features", "scratch_3d"]  # flow needs no weights
    assert candidate_families(data, CPU, task="regression") == ["motion_features", "scratch_3d"]  # appearance does not carry speed
    mine = {"model.name": "feature_rnn", "frame_features.kinds": ["motion"]}
    assert candidate_families(data, CPU, task="classification", explicit=mine) == ["motion_features"]
    assert candidate_families(data, CPU, task="classification", explicit={"model.name": "feature_rnn"}) == ["frame_features"]
    gpu = MachineFingerprint(cores=8, memory_bytes=64 * 2**30, gpus=[("GPU", 16 * 2**30)], frame_encoder=True,
                             video_weights=["r3d_18.kinetics400"])
    assert candidate_families(data, gpu, task="classification")[0] == "video_backbone"
    plan = plan_recipe(data, gpu, 600)
    assert plan.config.model.weights == "r3d_18.kinetics400" and plan.config.model.name == "r3d_18"
    reg = plan_recipe(_data(task="regression"), CPU, 300, task="regression")
    assert reg.family == "motion_features"
    assert reg.config.model.name == "feature_rnn" and reg.config.frame_features.kinds == ["motion"]
    cls = plan_recipe(data, CPU, 600)
    assert cls.config.frame_features.kinds == ["deep", "motion"]


def test_encoder_rows_that_cost_over_half_the_budget_do_not_fit_but_flow_rows_do() -> None:
    data = _data()  # 36 videos
    slow = plan_recipe(data, CPU, 300, family="frame_features", calibration=_cal(first=5.0, step_s=0.01, model="feature_rnn"))
    assert not slow.fits and any("per-frame features" in n for n in slow.notes)  # 180 s of 300 is over half
    flow = plan_recipe(data, CPU, 300, family="motion_features", calibration=_cal(first=0.05, step_s=0.01, model="feature_rnn"))
    assert flow.fits and flow.config.frame_features.kinds == ["motion"] and flow.config.model.name == "feature_rnn"
    assert flow.config.data.num_workers == 0


def test_pure_same_inputs_same_plan_and_bad_inputs_are_named() -> None:
    a = plan_recipe(_data(), CPU, 600, calibration=_cal())
    b = plan_recipe(_data(), CPU, 600, calibration=_cal())
    assert a.to_dict() == b.to_dict()
    with pytest.raises(ConfigError, match="--task"):
        plan_recipe(_data(), CPU, 600, task="clustering")
    with pytest.raises(ConfigError, match="at least 2"):
        plan_recipe(_data(n=1), CPU, 600)


def test_batch_size_fits_memory() -> None:
    tiny = MachineFingerprint(cores=1, memory_bytes=200 * 2**20, frame_encoder=False)
    plan = plan_recipe(_data(n=400, groups=0, side=(128, 128)), tiny, 600)
    assert plan.config.optim.batch_size < 8
    assert "capped" in _choice(plan, "optim.batch_size").reason
