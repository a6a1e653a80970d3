"""dasnet.read against `dasnet inspect --json` on the shared real files (every format the
command reads), windows by time and distance, zero-copy data, DASCore patches and the same errors."""
import json

import numpy as np
import pytest

import dasnet
from conftest import cli_error, run_cli


def real_files(data_dir):
    return sorted(p for p in data_dir.iterdir() if p.is_file() and not p.name.startswith(("LICENSE", "README")))


def test_read_matches_inspect_on_every_real_file(data_dir):
    readable = 0
    for path in real_files(data_dir):
        r = run_cli("inspect", "--json", path, check=False)
        if r.returncode != 0:
            # A file the command refuses: the module refuses it with the same message.
            with pytest.raises(dasnet.Error) as raised:
                dasnet.read(path)
            assert str(raised.value) == cli_error(r), path
            continue
        for entry in json.loads(r.stdout):
            rec = dasnet.read(path, record=entry["record_index"])
            for key, value in entry.items():
                assert rec.metadata[key] == value, "%s: %s" % (path.name, key)
            assert rec.data.shape == (entry["channels"], entry["samples"]), path.name
            assert rec.data.dtype == np.float32
            assert rec.processed == entry["processed"] and rec.units == entry["units"]
            if entry["start_time_ns"] is not None:
                assert rec.start_time == np.datetime64(entry["start_time"].rstrip("Z"), "ns"), path.name
            readable += 1
    assert readable >= 5, "expected most shared files to be readable"


def test_non_finite_counts_match_inspect_values(data_dir):
    path = data_dir / "prodml_2.0.h5"
    entry = json.loads(run_cli("inspect", "--json", "--values", path).stdout)[0]
    rec = dasnet.read(path)
    assert rec.metadata["non_finite_samples"] == entry["non_finite_samples"]
    assert rec.metadata["non_finite_channels"] == entry["non_finite_channels"]


def test_data_is_the_engines_buffer_kept_alive_by_the_array(data_dir):
    rec = dasnet.read(data_dir / "prodml_2.0.h5")
    data = rec.data
    assert not data.flags.owndata and data.base is not None  # no copy: the array holds the C++ buffer
    total = float(np.sum(data, dtype=np.float64))
    del rec
    assert float(np.sum(data, dtype=np.float64)) == total  # still valid after the Record is gone


def test_time_and_distance_windows_read_only_that_part(data_dir):
    path = data_dir / "prodml_2.0.h5"
    full = dasnet.read(path)
    m = full.metadata
    rate, spacing, d0 = m["sampling_rate_hz"], m["channel_spacing_m"], m["distance_start_m"]
    window = dasnet.read(path, time=(10 / rate, 49 / rate), distance=(d0 + 3 * spacing, d0 + 12 * spacing))
    assert window.data.shape == (10, 40)
    np.testing.assert_array_equal(window.data, full.data[3:13, 10:50])
    w = window.metadata
    assert w["first_channel"] == 3 and w["first_sample"] == 10
    assert w["channels"] == 10 and w["samples"] == 40
    assert w["distance_start_m"] == pytest.approx(d0 + 3 * spacing)
    assert w["first_locus"] == m["first_locus"] + 3 * m["channel_step"]
    assert w["start_time_ns"] == m["start_time_ns"] + round(10 * 1e9 / rate)
    np.testing.assert_allclose(window.distance, full.distance[3:13])
    np.testing.assert_array_equal(window.time, full.time[10:50])
    # Absolute times (datetime64, ISO strings) select the same samples.
    start, step = full.start_time, np.timedelta64(round(1e9 / rate), "ns")
    same = dasnet.read(path, time=(start + 10 * step, str(start + 49 * step)),
                       distance=(d0 + 3 * spacing, d0 + 12 * spacing))
    np.testing.assert_array_equal(same.data, window.data)
    iso = dasnet.read(path, time=(window.metadata["start_time"], window.metadata["end_time"]))
    assert iso.data.shape == (m["channels"], 40) and iso.metadata["first_sample"] == 10
    # Open ends.
    assert dasnet.read(path, time=(None, 49 / rate)).data.shape == (m["channels"], 50)
    assert dasnet.read(path, distance=(d0 + 3 * spacing, None)).data.shape == (m["channels"] - 3, m["samples"])


def test_window_outside_the_record_is_a_usage_error(data_dir):
    path = data_dir / "prodml_2.0.h5"
    with pytest.raises(dasnet.UsageError, match="time=.*selects nothing") as raised:
        dasnet.read(path, time=(1e6, 2e6))
    assert isinstance(raised.value, ValueError) and str(path) in str(raised.value)


def test_missing_file_has_the_commands_message(tmp_path):
    missing = tmp_path / "nope.h5"
    r = run_cli("inspect", missing, check=False)
    assert r.returncode == 1
    with pytest.raises(dasnet.Error) as raised:
        dasnet.read(missing)
    assert str(raised.value) == cli_error(r)
    assert not isinstance(raised.value, dasnet.UsageError) and isinstance(raised.value, RuntimeError)


def test_to_dascore_and_back(data_dir):
    dascore = pytest.importorskip("dascore")
    rec = dasnet.read(data_dir / "prodml_2.0.h5")
    patch = dasnet.to_dascore(rec)
    assert isinstance(patch, dascore.Patch) and patch.dims == ("distance", "time")
    np.testing.assert_array_equal(np.asarray(patch.data), rec.data)
    np.testing.assert_allclose(np.asarray(patch.coords.get_array("distance")), rec.distance)
    assert np.asarray(patch.coords.get_array("time"))[0] == rec.start_time
    as_patch = dasnet.read(data_dir / "prodml_2.0.h5", as_patch=True)
    np.testing.assert_array_equal(np.asarray(as_patch.data), rec.data)
    back = dasnet.from_dascore(patch)
    np.testing.assert_array_equal(back.data, rec.data)
    assert back.sampling_rate_hz == pytest.approx(rec.sampling_rate_hz, rel=1e-6)
    assert back.start_time == rec.start_time
    assert back.distance_start_m == pytest.approx(rec.distance_start_m)
    assert back.channel_spacing_m == pytest.approx(rec.channel_spacing_m)


def test_dascore_reads_what_dasnet_reads(data_dir):
    dascore = pytest.importorskip("dascore")
    path = data_dir / "prodml_2.0.h5"
    theirs = dascore.spool(path)[0].transpose("distance", "time")
    ours = dasnet.read(path)
    assert ours.data.shape == theirs.data.shape
    np.testing.assert_allclose(ours.data, np.asarray(theirs.data, dtype=np.float32), rtol=1e-6)


def test_stored_read_keeps_the_file_dtype_and_equals_the_float_read(data_dir):
    # read(stored=True) is the file's own samples, unscaled, as DASCore hands them back; scaled
    # and converted they are read()'s float32 samples exactly, for whole files and windows.
    for name, dtype in [("prodml_2.0.h5", np.int16), ("iDAS005_tdms_example.626.tdms", np.int16),
                        ("terra15_v5_test_file.hdf5", np.float32), ("febus_2.h5", np.float32)]:
        path = data_dir / name
        for window in [{}, {"distance": (None, None), "time": (0.01, 0.05)}]:
            floats = dasnet.read(path, **window)
            stored = dasnet.read(path, stored=True, **window)
            assert stored.data.dtype == dtype, name
            assert stored.data.shape == floats.data.shape, name
            assert stored.metadata["non_finite_samples"] is None
            scaled = stored.data.astype(np.float32) * np.float32(stored.metadata["scale_factor"])
            np.testing.assert_array_equal(scaled, floats.data, err_msg=name)
            assert np.array_equal(stored.time, floats.time) and np.array_equal(stored.distance, floats.distance)
    tdms = dasnet.read(data_dir / "iDAS005_tdms_example.626.tdms", stored=True)
    assert tdms.metadata["stored_time_major"] and not tdms.data.flags["C_CONTIGUOUS"]  # a view, not a copy
