import av
import numpy as np
import pytest
from PIL import Image

from apps.video import data
from shared.data.cache import folder_is_complete
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
    assert np.bincount(splits.train["label"], minlength=8).tolist() == [8] * 8
    assert (splits.test["length"] == 16).all() and len(splits.validation["frames"]) == 8
    assert splits.info["classes"] == list(data.CLASSES)


@pytest.mark.parametrize("class_name", data.CLASSES)
def test_trajectories_follow_their_class(class_name):
    for seed in range(20):
        path = data._trajectory(np.random.default_rng(seed), class_name)
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


def test_pillow_angle_turns_anticlockwise_on_screen():
    # A dot right of centre; +90 degrees must bring it to the top (smaller y).
    mask = Image.new("L", (48, 48), 0)
    mask.paste(255, (38, 21, 46, 27))
    path = {key: np.zeros(16) for key in ("x", "y", "size", "angle")}
    path["x"][:], path["y"][:], path["size"][:] = 32, 32, 48
    path["angle"][1] = 90
    coverage = data._object_masks(mask, path)
    (ys0, xs0), (ys1, xs1) = np.nonzero(coverage[0] > 0.5), np.nonzero(coverage[1] > 0.5)
    assert xs0.mean() > 45 and abs(ys0.mean() - 32) < 3
    assert ys1.mean() < 20 and abs(xs1.mean() - 32) < 3


def test_rendered_clips_show_the_motion():
    for class_name, axis, sign in (("move_right", 0, 1), ("move_up", 1, -1)):
        shifts = []
        for seed in range(4):
            clip = data.make_clip(class_name, seed)
            shifts.append(_foreground_centre(clip[-1])[axis] - _foreground_centre(clip[0])[axis])
        assert np.mean(shifts) * sign > 8, (class_name, shifts)
    # Object sizes over all frames span the same range in every class, so size alone
    # (one frame) does not give the class away.
    for name in data.CLASSES:
        sizes = np.concatenate(
            [data._trajectory(np.random.default_rng(s), name)["size"] for s in range(50)]
        )
        assert sizes.min() < 16 and sizes.max() > 30, name


def test_generation_is_seeded_and_evaluation_digits_are_unseen():
    first = data.generate_split("validation", 3, seed=5)
    again = data.generate_split("validation", 6, seed=5)
    np.testing.assert_array_equal(first["frames"], again["frames"][:3])
    assert not np.array_equal(first["frames"], data.generate_split("validation", 3, 6)["frames"])
    train, held_out = set(data._digit_pool(False)), set(data._digit_pool(True))
    assert not train & held_out and len(train | held_out) == 1797
    with pytest.raises(ValueError, match="class_name"):
        data.make_clip("dance", 0)


def test_default_corpus_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path))
    splits = data.load_data(size=16, seed=2)
    folders = list(tmp_path.glob("video_motions_*"))
    assert len(folders) == 1 and folder_is_complete(folders[0], data.GENERATOR_VERSION)
    again = data.load_data(size=16, seed=2)
    np.testing.assert_array_equal(splits.test["frames"], again.test["frames"])
    np.testing.assert_array_equal(splits.train["label"], again.train["label"])


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_write_sample_clip_reads_back(tmp_path, suffix):
    path = data.write_sample_clip(tmp_path / f"clip{suffix}", "grow", seed=3)
    assert path.suffix == suffix and path.stat().st_size > 0
    frames, length = data.load_video(path)
    assert frames.shape == (16, 64, 64, 3) and length == 16
    original = data.make_clip("grow", 3).astype(int)
    assert np.abs(frames.astype(int) - original).mean() < 12


def test_load_video_samples_evenly_and_resizes(tmp_path):
    path = _write_mp4(tmp_path / "long.mp4", _ramp(40, height=48, width=80))
    frames, length = data.load_video(path)
    assert frames.shape == (16, 64, 64, 3) and length == 16
    read_index = frames[:, 32, 32, 0] / 6.0
    np.testing.assert_allclose(read_index, np.linspace(0, 39, 16), atol=1.0)


def test_load_video_bounds_memory_on_long_videos(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_MAX_DECODED_FRAMES", 8)
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
