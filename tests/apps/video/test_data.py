import av
import numpy as np
import pytest
from PIL import Image

from apps.video import data, generator, runtime
from shared.data.cache import folder_is_complete
from shared.data.overlap import assert_no_overlap, overlap_rows
from shared.errors import UserError


def _write_mp4(path, frames, fps=8):
    """H.264 at near-lossless quality, so tests can read exact-ish values back."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt, stream.options = "yuv420p", {"crf": "1"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _write_gif(path, frames):
    pictures = [Image.fromarray(frame) for frame in frames]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=100, loop=0)
    return path


def _ramp(count, height=48, width=64):
    """Frame i is a flat grey of brightness 6 * i: the frame index can be read back."""
    values = (np.arange(count) * 6).astype(np.uint8)
    return np.broadcast_to(values[:, None, None, None], (count, height, width, 3)).copy()


def _foreground_centre(frame):
    distance = np.abs(frame.astype(int) - np.median(frame.reshape(-1, 3), axis=0)).sum(-1)
    ys, xs = np.nonzero(distance > 120)
    return xs.mean(), ys.mean()


def test_quick_splits_have_the_documented_columns():
    splits = data.load_data(quick=True)
    assert splits.train["frames"].shape == (data.QUICK_TRAIN_SIZE, 16, 64, 64, 3)
    assert splits.train["frames"].dtype == np.uint8
    assert np.bincount(splits.train["label"], minlength=8).tolist() == [16] * 8
    assert (splits.test["length"] == 16).all() and len(splits.validation["frames"]) == 64
    assert splits.info["classes"] == list(data.CLASSES)
    assert set(splits.extra) == set(data.HELD_OUT_SETS) == set(splits.info["held_out"])
    for columns in splits.extra.values():
        assert columns["frames"].shape == (16, 16, 64, 64, 3)
        assert np.bincount(columns["label"], minlength=8).tolist() == [2] * 8
    assert overlap_rows(splits.info["overlap"]["clips"]) == 0
    assert overlap_rows(splits.info["overlap"]["sprites"]) == 0


@pytest.mark.parametrize("class_name", data.CLASSES)
def test_trajectories_follow_their_class(class_name):
    for seed in range(20):
        rng = np.random.default_rng(seed)
        motion = generator._draw_motion(rng, class_name, rate=seed / 19)
        path = generator._trajectory(class_name, motion)
        dx, dy = path["x"][-1] - path["x"][0], path["y"][-1] - path["y"][0]
        turn = path["angle"][-1] - path["angle"][0]
        growth = path["size"][-1] / path["size"][0]
        expected_shift = {"move_left": (-1, 0), "move_right": (1, 0), "move_up": (0, -1)}
        expected_shift["move_down"] = (0, 1)
        sx, sy = expected_shift.get(class_name, (0, 0))
        # Moves cover at least 18 px; everything else drifts under 4 px.
        assert (dx * sx >= 17 if sx else abs(dx) < 4) and (dy * sy >= 17 if sy else abs(dy) < 4)
        spin = {"rotate_clockwise": -1, "rotate_anticlockwise": 1}.get(class_name, 0)
        assert turn * spin >= 89 if spin else turn == 0
        scale = {"grow": 1, "shrink": -1}.get(class_name, 0)
        assert np.log(growth) * scale > np.log(1.7) if scale else growth == 1


def test_speeds_of_each_split_come_from_their_own_band():
    rates = {
        split: np.array([generator.clip_parameters(split, i)["motion"]["rate"] for i in range(400)])
        for split in ("train", "test", generator.UNSEEN_SET, "other_renderer", "faster_motion")
    }
    for split in ("train", "test", "other_renderer"):
        inside = (rates[split] >= 0.35) & (rates[split] < 0.65)
        assert not inside.any() and rates[split].min() < 0.05 and rates[split].max() > 0.95
    assert ((rates[generator.UNSEEN_SET] >= 0.35) & (rates[generator.UNSEEN_SET] < 0.65)).all()
    assert (rates["faster_motion"] >= 1.15).all() and (rates["faster_motion"] <= 1.5).all()
    # The fastest training move is 2.5 px a frame, turn 14 degrees, size ratio 4.
    speeds = [generator._speed(name, 1.0) for name in ("move_left", "rotate_clockwise", "grow")]
    np.testing.assert_allclose(speeds, [2.5, 14.0, 4.0])


def test_pillow_angle_turns_anticlockwise_on_screen():
    # A dot right of centre; +90 degrees must bring it to the top (smaller y).
    mask = Image.new("L", (48, 48), 0)
    mask.paste(255, (38, 21, 46, 27))
    path = {key: np.zeros(16) for key in ("x", "y", "size", "angle")}
    path["x"][:], path["y"][:], path["size"][:] = 32, 32, 48
    path["angle"][1] = 90
    coverage = generator._object_masks(mask, path)
    (ys0, xs0), (ys1, xs1) = np.nonzero(coverage[0] > 0.5), np.nonzero(coverage[1] > 0.5)
    assert xs0.mean() > 45 and abs(ys0.mean() - 32) < 3
    assert ys1.mean() < 20 and abs(xs1.mean() - 32) < 3


def test_rendered_clips_show_the_motion():
    for class_name, axis, sign in (("move_right", 0, 1), ("move_up", 1, -1)):
        shifts = []
        for seed in range(4):
            clip = generator.make_clip(class_name, seed)
            shifts.append(_foreground_centre(clip[-1])[axis] - _foreground_centre(clip[0])[axis])
        assert np.mean(shifts) * sign > 8, (class_name, shifts)
    # Object sizes over all frames span the same range in every class, so size alone
    # (one frame) does not give the class away.
    for name in data.CLASSES:
        sizes = np.concatenate(
            [
                generator._trajectory(
                    name, generator.clip_parameters("train", 8 * s + i)["motion"]
                )["size"]
                for s in range(50)
                for i in [data.CLASSES.index(name)]
            ]
        )
        assert sizes.min() < 16 and sizes.max() > 30, name


def test_the_other_renderer_draws_the_same_motion():
    """matplotlib and Pillow put the same sprite at the same place, size and angle."""
    from apps.video.other_renderer import render_clip

    for index in range(8):  # one clip of every class
        params = generator.clip_parameters("other_renderer", index)
        params["background"].update(contrast=0.0, kind=0, velocity=[0.0, 0.0])
        params.update(distractor=None, noise=0.0, sprite="shape:ell")
        pillow = generator._render(params, "test", np.random.default_rng(0))
        drawn = render_clip(params, np.random.default_rng(0))
        base = np.asarray(params["background"]["base"])
        for t in (0, 15):  # a turn the wrong way round would be far off by the last frame
            a = np.abs(pillow[t] - base).sum(-1) > 60
            b = np.abs(drawn[t] - base).sum(-1) > 60
            assert (a & b).sum() / (a | b).sum() > 0.6, (params["class"], t)


def test_generation_is_seeded_and_digit_pools_are_disjoint():
    first = data.generate_split("validation", 3, seed=5)
    again = data.generate_split("validation", 6, seed=5)
    np.testing.assert_array_equal(first["frames"], again["frames"][:3])
    assert not np.array_equal(first["frames"], data.generate_split("validation", 3, 6)["frames"])
    pools = {
        split: set(generator._digit_pool(split).tolist())
        for split in ("train", "validation", "test", "faster_motion", generator.UNSEEN_SET)
    }
    assert sum(len(pool) for pool in pools.values()) == 1797 == len(set().union(*pools.values()))
    labels = generator._digits()[1]
    assert set(labels[list(pools[generator.UNSEEN_SET])].tolist()) == set(generator.HELD_OUT_DIGITS)
    with pytest.raises(ValueError, match="class_name"):
        generator.make_clip("dance", 0)
    with pytest.raises(ValueError, match="split"):
        data.generate_split("holdout", 1)


@pytest.fixture(scope="module")
def default_parameters():
    """Every clip's parameters in the default corpus (2,400 training clips): no drawing."""
    return {
        split: [generator.clip_parameters(split, index, 1234) for index in range(count)]
        for split, count in data.split_sizes(data.DEFAULT_TRAIN_SIZE).items()
    }


def test_default_corpus_shares_no_clip_and_no_held_out_sprite(default_parameters):
    assert len(default_parameters["train"]) == data.DEFAULT_TRAIN_SIZE
    report = generator.split_overlap(default_parameters)
    assert_no_overlap(report["clips"], what="clips (their generating parameters)")
    assert_no_overlap(report["sprites"], what="held-out sprites")
    assert report == data.corpus_overlap(1234, data.DEFAULT_TRAIN_SIZE)  # what load_data stores
    # The unseen set shows only held-out sprites, including its still distractors.
    for params in default_parameters[generator.UNSEEN_SET]:
        for sprite in generator.held_out_sprites(generator.UNSEEN_SET, params):
            kind, name = sprite.split(":")
            assert name in generator.HELD_OUT_SHAPES if kind == "shape" else kind == "digit"
            if kind == "digit":
                assert generator._digits()[1][int(name)] in generator.HELD_OUT_DIGITS


def test_planted_duplicates_are_caught(default_parameters):
    import copy

    planted = copy.deepcopy(default_parameters)
    planted["test"][5] = dict(planted["train"][123])  # a training clip in the test split
    with pytest.raises(AssertionError, match="train/test: 1 rows"):
        assert_no_overlap(generator.split_overlap(planted)["clips"])
    # A training handwriting sample in validation, a training shape in the unseen set.
    digit = next(p["sprite"] for p in planted["train"] if p["sprite"].startswith("digit:"))
    planted = copy.deepcopy(default_parameters)
    planted["validation"][0]["sprite"] = digit
    planted[generator.UNSEEN_SET][3]["sprite"] = "shape:triangle"
    report = generator.split_overlap(planted)["sprites"]
    assert report["train/validation"]["examples"] == [digit]
    assert report[f"train/{generator.UNSEEN_SET}"]["examples"] == ["shape:triangle"]
    assert overlap_rows(report) >= 2


def test_default_corpus_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path))
    splits = data.load_data(size=16, seed=2)
    folders = list(tmp_path.glob("video_motions_*"))
    assert len(folders) == 1 and folder_is_complete(folders[0], data.GENERATOR_VERSION)
    again = data.load_data(size=16, seed=2)
    np.testing.assert_array_equal(splits.test["frames"], again.test["frames"])
    np.testing.assert_array_equal(splits.train["label"], again.train["label"])
    for name in data.HELD_OUT_SETS:
        np.testing.assert_array_equal(splits.extra[name]["frames"], again.extra[name]["frames"])


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_write_sample_clip_reads_back(tmp_path, suffix):
    path = data.write_sample_clip(tmp_path / f"clip{suffix}", "grow", seed=3)
    assert path.suffix == suffix and path.stat().st_size > 0
    frames, length = data.load_video(path)
    assert frames.shape == (16, 64, 64, 3) and length == 16
    original = generator.make_clip("grow", 3).astype(int)
    assert np.abs(frames.astype(int) - original).mean() < 12


def test_load_video_samples_evenly_and_resizes(tmp_path):
    path = _write_mp4(tmp_path / "long.mp4", _ramp(40, height=48, width=80))
    frames, length = data.load_video(path)
    assert frames.shape == (16, 64, 64, 3) and length == 16
    read_index = frames[:, 32, 32, 0] / 6.0
    np.testing.assert_allclose(read_index, np.linspace(0, 39, 16), atol=1.0)


def test_load_video_bounds_memory_on_long_videos(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "_MAX_DECODED_FRAMES", 8)
    path = _write_mp4(tmp_path / "long.mp4", _ramp(40))
    frames, length = data.load_video(path, num_frames=4)
    read_index = frames[:, 32, 32, 0] / 6.0
    assert length == 4 and read_index[0] < 1 and read_index[-1] > 30
    assert (np.diff(read_index) > 4).all()


def test_short_odd_sized_clip_is_padded(tmp_path):
    clip = np.zeros((5, 23, 37, 3), np.uint8)
    clip[..., 1] = (200 - 20 * np.arange(5))[:, None, None]  # distinct, or GIF merges frames
    frames, length = data.load_video(_write_gif(tmp_path / "odd.gif", clip))
    assert length == 5 and frames.shape == (16, 64, 64, 3)
    assert abs(int(frames[4, 10, 10, 1]) - 120) < 8 and frames[5:].max() == 0


def test_unreadable_videos_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="missing.mp4: no such file"):
        data.load_video(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(UserError, match="empty.mp4: empty file"):
        data.load_video(tmp_path / "empty.mp4")
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 20)
    with pytest.raises(UserError, match="text.mp4: not a readable video") as info:
        data.load_video(tmp_path / "text.mp4")
    assert "\n" not in str(info.value)


def test_folder_of_class_folders(tmp_path):
    root = tmp_path / "videos"
    for label, name in enumerate(["jump", "wave"]):
        (root / name).mkdir(parents=True)
        for index in range(5):
            clip = np.full((20, 30, 30, 3), 100 * label, np.uint8)
            _write_gif(root / name / f"{index}.gif", clip)
    (root / "wave" / "notes.txt").write_text("ignored: not a video suffix")
    splits = data.load_data(str(root), seed=0)
    assert splits.info["classes"] == ["jump", "wave"]
    columns = (splits.train, splits.validation, splits.test)
    assert sum(len(c["label"]) for c in columns) == 10
    assert np.bincount(splits.train["label"]).tolist() == [4, 4]
    for column in columns:
        for frames, label in zip(column["frames"], column["label"], strict=True):
            assert abs(int(frames[0, 5, 5, 0]) - 100 * label) < 8  # the right class folder
    (root / "wave" / "4.gif").write_bytes(b"GIF89a broken")
    with pytest.raises(UserError, match=r"4\.gif: not a readable video"):
        data.load_data(str(root), seed=0)
    lonely = tmp_path / "lonely"
    (lonely / "only").mkdir(parents=True)
    with pytest.raises(UserError, match="at least two sub-folders"):
        data.load_data(str(lonely))


def test_tfds_ucf101_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=5):
        splits = data.load_data("tfds:ucf101", size=5)
    total_train = len(splits.train["label"]) + len(splits.validation["label"])
    assert total_train == 5 and splits.test["frames"].shape == (5, 16, 64, 64, 3)
    assert len(splits.info["classes"]) == 101
    assert ((splits.test["length"] >= 1) & (splits.test["length"] <= 16)).all()
    with pytest.raises(UserError, match="ucf101 only"):
        data.load_data("tfds:kinetics400")
