"""dasnet.Model against `dasnet predict`, `dasnet eval` and `dasnet infer` on a tiny synthetic
model; dasnet.train against `dasnet train`; errors with the command's messages."""
import csv
import io
import re

import numpy as np
import pytest

import dasnet
from conftest import cli_error, run_cli


def predict_rows(tiny):
    out = run_cli("predict", "--checkpoint", tiny["checkpoint"], "--data", tiny["dataset"], "--split", "test").stdout
    return list(csv.DictReader(io.StringIO(out)))


def test_predict_matches_the_predict_command(tiny):
    model = dasnet.Model.load(tiny["checkpoint"])
    images, labels = dasnet.load_split(tiny["dataset"], "test")
    assert images.dtype == np.float32 and images.ndim == 4
    rows = predict_rows(tiny)
    p = model.predict(images, batch_size=5)  # batches of any size: the same numbers
    assert len(rows) == len(p) == len(labels) > 0
    np.testing.assert_allclose(p, [float(r["p_usable"]) for r in rows], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(labels, [int(r["label"]) for r in rows])
    every = model.predict(images, all_outputs=True)
    assert every.shape == (len(images), 2)
    np.testing.assert_allclose(every, [[float(r["p0"]), float(r["p1"])] for r in rows], rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.predict(images.astype(np.float64)), p, rtol=0, atol=0)


def test_accuracy_matches_the_eval_command(tiny):
    model = dasnet.Model.load(tiny["checkpoint"])
    images, labels = dasnet.load_split(tiny["dataset"], "test")
    accuracy = np.mean((model.predict(images) > 0.5) == (labels == 1))
    out = run_cli("eval", "--checkpoint", tiny["checkpoint"], "--data", tiny["dataset"], "--split", "test").stdout
    assert accuracy == pytest.approx(float(re.search(r"accuracy ([0-9.]+)", out).group(1)), abs=1e-4)


def test_p_usable_matches_the_infer_command(tiny):
    h5py = pytest.importorskip("h5py")
    d = tiny["dir"]
    run_cli("infer", tiny["checkpoint"], tiny["record"], "-o", "maps", "--stride-channels", 10, "--stride-samples", 100,
            "--no-progress", cwd=d)
    with h5py.File(d / "maps" / "test.pmap.h5") as f:
        expected, distance, time = f["p_usable"][...], f["distance_m"][...], f["time_s"][...]
        start_ns = int(f.attrs["start_time_ns"])
    model = dasnet.Model.load(tiny["checkpoint"])
    for source in (tiny["record"], dasnet.read(tiny["record"])):  # the file, chunk by chunk, and a Record
        m = model.p_usable(source, stride=(10, 100))
        assert m.p_usable.shape == expected.shape
        np.testing.assert_allclose(m.p_usable, expected, rtol=0, atol=1e-6)  # NaN where unscored, alike
        np.testing.assert_allclose(m.distance_m, distance)
        np.testing.assert_allclose(m.time_s, time)
        assert m.start_time == np.datetime64(start_ns, "ns") and m.cell_channels == 10 and m.cell_samples == 100
    # A window of the record maps that window: 20 channels = 2 rows of cells, both covered by the
    # one window that also covers the first row of the whole record's map.
    rec = dasnet.read(tiny["record"])
    d0, spacing = rec.distance_start_m, rec.channel_spacing_m
    part = model.p_usable(dasnet.read(tiny["record"], distance=(d0, d0 + 19 * spacing)), stride=(10, 100))
    assert part.p_usable.shape == (2, expected.shape[1])
    np.testing.assert_allclose(part.p_usable[0], expected[0], rtol=0, atol=1e-6)


def test_p_usable_of_a_dascore_patch_equals_the_records(tiny):
    pytest.importorskip("dascore")
    model = dasnet.Model.load(tiny["checkpoint"])
    rec = dasnet.read(tiny["record"])
    np.testing.assert_allclose(model.p_usable(rec.to_dascore()).p_usable, model.p_usable(rec).p_usable,
                               rtol=0, atol=1e-6)


def test_train_two_epochs_calls_back_each_epoch(tiny, tmp_path):
    seen = []

    def on_epoch(metrics):
        # Called once the epoch's checkpoint is on disk.
        assert (tmp_path / "ck" / ("epoch_%04d.h5" % metrics["epoch"])).is_file()
        seen.append(metrics)

    epochs = dasnet.train(data=tiny["dataset"], depth=2, epochs=2, batch_size=16, lr=0.05,
                          checkpoint_dir=tmp_path / "ck", no_progress=True, on_epoch=on_epoch)
    assert [m["epoch"] for m in seen] == [1, 2] and epochs == seen
    # The same run as the command's (same flags, same seed): the same metrics.
    for mine, cli in zip(seen, tiny["metrics"]):
        assert mine["train_loss"] == pytest.approx(cli["train_loss"], rel=1e-5)
        assert mine["val_loss"] == pytest.approx(cli["val_loss"], rel=1e-5)
        assert mine["val_accuracy"] == pytest.approx(cli["val_accuracy"], abs=1e-9)
    model = dasnet.Model.load(tmp_path / "ck" / "epoch_0002.h5")
    assert model.epochs_done == 2 and model.config["depth"] == 2


def test_errors_carry_the_commands_messages(tiny, tmp_path):
    r = run_cli("train", "--depth", 3, "--epochs", 1, check=False)
    assert r.returncode == 2
    with pytest.raises(dasnet.UsageError) as raised:
        dasnet.train(depth=3, epochs=1)
    assert str(raised.value) == cli_error(r) and isinstance(raised.value, ValueError)
    r = run_cli("train", "--no-such-flag", check=False)
    assert r.returncode == 2
    with pytest.raises(ValueError) as raised:
        dasnet.train(no_such_flag=True)
    assert str(raised.value) == cli_error(r)
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not a checkpoint")
    r = run_cli("eval", "--checkpoint", bad, "--data", tiny["dataset"], check=False)
    assert r.returncode == 1
    with pytest.raises(dasnet.Error) as raised:
        dasnet.Model.load(bad)
    assert str(raised.value) == cli_error(r) and not isinstance(raised.value, ValueError)
    model = dasnet.Model.load(tiny["checkpoint"])
    with pytest.raises(dasnet.UsageError, match=r"images must be N x 1 x 20 x 200 .*got 2 x 1 x 8 x 8"):
        model.predict(np.zeros((2, 1, 8, 8), np.float32))
    with pytest.raises(dasnet.UsageError, match="must divide the model's image size"):
        model.p_usable(tiny["record"], stride=(7, 100))


def test_a_callback_that_raises_stops_training(tiny, tmp_path):
    def stop(metrics):
        raise KeyboardInterrupt("stop after epoch %d" % metrics["epoch"])

    with pytest.raises(KeyboardInterrupt, match="stop after epoch 1"):
        dasnet.train(data=tiny["dataset"], depth=2, epochs=3, batch_size=16, checkpoint_dir=tmp_path / "ck",
                     no_progress=True, on_epoch=stop)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["epoch_0001.h5"]


def test_version_is_the_commands():
    assert dasnet.version() == run_cli("--version").stdout.strip()
