"""dasnet from Python: the engine's own DAS readers, models and training, with NumPy data.

    import dasnet
    rec = dasnet.read("record.h5", time=(0, 30), distance=(100, 500))
    rec.data                  # float32 NumPy array, distance x time, the engine's buffer (no copy)
    rec.metadata              # what `dasnet inspect --json` says, for this window
    model = dasnet.Model.load("ck/epoch_0028.h5")
    model.predict(images)     # P(usable) per image of N x C x H x W floats in [0, 1]
    model.p_usable(rec)       # the usable-energy map, as `dasnet infer` computes it
    dasnet.train(data="ds.h5", depth=14, epochs=2, on_epoch=print)

Errors carry the command's messages: dasnet.UsageError (a ValueError) where the command exits 2
(a bad argument), dasnet.Error (a RuntimeError) where it exits 1 (an unreadable file, a
diverged run).
"""
import dataclasses
import datetime
import json
import math
import os

import numpy as np

from . import _dasnet
from ._dasnet import Error, UsageError

__all__ = ["read", "Record", "to_dascore", "from_dascore", "Model", "UsableEnergyMap", "train", "load_split",
           "version", "Error", "UsageError"]


def version():
    """What `dasnet --version` prints: release, commit, CPU ISA, compiled-in libraries."""
    return _dasnet.version()


class Record:
    """A distance x time window of a DAS record.

    data: float32 NumPy array (channels x samples) in the record's units (read(stored=True): the
    file's dtype, unscaled, possibly a transposed view); metadata: a dict with
    the keys of `dasnet inspect --json`, describing this window, plus first_channel / first_sample
    (where it starts in the file) and its NaN/Inf counts."""

    def __init__(self, data, metadata):
        self.data = data
        self.metadata = metadata

    @property
    def sampling_rate_hz(self):
        return self.metadata["sampling_rate_hz"]

    @property
    def start_time(self):
        """UTC time of the first sample (numpy.datetime64[ns]); NaT where the format stores none."""
        ns = self.metadata["start_time_ns"]
        return np.datetime64("NaT", "ns") if ns is None else np.datetime64(ns, "ns")

    @property
    def distance_start_m(self):
        return self.metadata["distance_start_m"]

    @property
    def channel_spacing_m(self):
        return self.metadata["channel_spacing_m"]

    @property
    def units(self):
        return self.metadata["units"]

    @property
    def processed(self):
        """True for a processed product (FBE band, PSD), not raw strain (rate)."""
        return self.metadata["processed"]

    @property
    def time_s(self):
        """Seconds of each sample from the window's first."""
        return np.arange(self.data.shape[1]) / self.sampling_rate_hz

    @property
    def time(self):
        """UTC time of each sample (datetime64[ns]); from 1970-01-01 where the start is unknown."""
        start = self.metadata["start_time_ns"] or 0
        return np.datetime64(start, "ns") + np.round(self.time_s * 1e9).astype("timedelta64[ns]")

    @property
    def distance(self):
        """Distance of each channel along the fibre (m)."""
        return self.distance_start_m + np.arange(self.data.shape[0]) * self.channel_spacing_m

    def __repr__(self):
        m = self.metadata
        return "<dasnet.Record %s: %d channels x %d samples at %g Hz from %s, %s>" % (
            m["format"], self.data.shape[0], self.data.shape[1], m["sampling_rate_hz"], m["start_time"], m["file"])

    def to_dascore(self):
        return to_dascore(self)


def _index_range(bounds, origin, step, count, what, path):
    """(first, count) of the indices k whose value origin + k * step lies in bounds (inclusive)."""
    if bounds is None:
        return 0, count
    low, high = bounds
    if not step > 0:
        raise UsageError("%s: %s= needs a %s step, and the file states none" % (path, what, what))
    eps = 1e-9  # a bound given as exactly a sample's value selects that sample
    first = 0 if low is None else max(0, math.ceil((low - origin) / step - eps))
    last = count - 1 if high is None else min(count - 1, math.floor((high - origin) / step + eps))
    if last < first:
        raise UsageError("%s: %s=%s selects nothing (the record covers %g to %g)"
                         % (path, what, tuple(bounds), origin, origin + (count - 1) * step))
    return first, last - first + 1


def _seconds(value, start_ns, path):
    """Seconds from the record's start: numbers are that already; datetimes and ISO strings are UTC."""
    if value is None or isinstance(value, (int, float, np.integer, np.floating)):
        return value
    if start_ns is None:
        raise UsageError("%s: time=%r is absolute, and the file states no start time (give seconds)" % (path, value))
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    if isinstance(value, str) and value.endswith("Z"):  # as `dasnet inspect` writes times
        value = value[:-1]
    return (np.datetime64(value, "ns").astype(np.int64) - start_ns) / 1e9


def read(path, time=None, distance=None, record=0, as_patch=False, stored=False):
    """Reads a DAS file (any format `dasnet inspect` knows) into a Record.

    time: (start, end), seconds from the record's start or absolute (numpy.datetime64, datetime,
    ISO string, UTC); distance: (start, end) in metres along the fibre. Both ends inclusive,
    None for open. Only that window is read from the file. record: which record of a file holding
    several (PRODML FBE bands). as_patch: return a DASCore Patch instead. stored: keep the file's
    dtype (int16 for iDAS), unscaled (physical = data * metadata["scale_factor"]), read without
    conversion in the file's axis order; data is then a distance x time view of that array
    (transposed, not copied, where the file is time-major: metadata["stored_time_major"]), and
    the NaN counts are None (not counted)."""
    path = os.fspath(path)
    info = json.loads(_dasnet.inspect_json(path, record))
    if time is not None:
        time = tuple(_seconds(t, info["start_time_ns"], path) for t in time)
    c0, nc = _index_range(distance, info["distance_start_m"], info["channel_spacing_m"], info["channels"],
                          "distance", path)
    rate = info["sampling_rate_hz"]
    t0, nt = _index_range(time, 0.0, 1.0 / rate if rate > 0 else 0.0, info["samples"], "time", path)
    data, metadata = (_dasnet.read_stored if stored else _dasnet.read)(path, c0, nc, t0, nt, record)
    metadata = json.loads(metadata)
    rec = Record(data.T if metadata.get("stored_time_major") else data, metadata)
    return to_dascore(rec) if as_patch else rec


def to_dascore(record):
    """The Record as a DASCore Patch (dims distance, time), sharing its samples (needs dascore)."""
    import dascore

    m = record.metadata
    attrs = {"data_units": m["units"] or None, "tag": m["format"]}
    if m["gauge_length_m"]:
        attrs["gauge_length"] = m["gauge_length_m"]
    return dascore.Patch(data=record.data, coords={"distance": record.distance, "time": record.time},
                         dims=("distance", "time"), attrs={k: v for k, v in attrs.items() if v is not None})


def from_dascore(patch):
    """A Record of a DASCore Patch with distance and time dimensions (evenly spaced)."""
    patch = patch.transpose("distance", "time")
    time = np.asarray(patch.coords.get_array("time"))
    distance = np.asarray(patch.coords.get_array("distance"), dtype=np.float64)
    if time.size < 2 or distance.size < 1:
        raise UsageError("DASCore patch needs at least 2 time samples and 1 distance, got %s" % (patch.shape,))
    if np.issubdtype(time.dtype, np.datetime64):
        start_ns = int(time[0].astype("datetime64[ns]").astype(np.int64))
        step_s = (time[1] - time[0]) / np.timedelta64(1, "ns") / 1e9
    else:  # a relative time axis (seconds)
        start_ns, step_s = 0, float(time[1] - time[0])
    spacing = float(distance[1] - distance[0]) if distance.size > 1 else 0.0
    units = patch.attrs.data_units
    data = np.ascontiguousarray(patch.data, dtype=np.float32)
    metadata = {"file": "DASCore patch", "format": "dascore", "processed": False, "channels": data.shape[0],
                "samples": data.shape[1], "start_time_ns": start_ns, "start_time": str(np.datetime64(start_ns, "ns")),
                "sampling_rate_hz": 1.0 / step_s, "channel_spacing_m": spacing, "distance_start_m": float(distance[0]),
                "gauge_length_m": float(patch.attrs.get("gauge_length", 0) or 0),
                "units": "" if units is None else str(units), "first_channel": 0, "first_sample": 0}
    return Record(data, metadata)


def load_split(path, split="test"):
    """(images N x C x H x W float32 in [0, 1], labels N int32) of a data set split, as training sees them."""
    return _dasnet.load_split(os.fspath(path), split)


@dataclasses.dataclass
class UsableEnergyMap:
    """P(usable) per cell of cell_channels x cell_samples (distance x time), NaN where unscored,
    as `dasnet infer` stores it in <name>.pmap.h5; distance_m and time_s are the cell centres
    (time in seconds from start_time)."""
    p_usable: np.ndarray
    distance_m: np.ndarray
    time_s: np.ndarray
    start_time: np.datetime64
    cell_channels: int
    cell_samples: int
    windows: int
    skipped_windows: int
    source: str


class Model:
    """A trained checkpoint on a backend, ready for inference."""

    def __init__(self, native):
        self._native = native
        self.config = json.loads(native.config_json())

    @classmethod
    def load(cls, checkpoint, backend="cpu", threads=0):
        """Loads a checkpoint of `dasnet train` (any format version) for --backend BACKEND, --threads THREADS."""
        return cls(_dasnet.Model(os.fspath(checkpoint), backend, threads))

    @property
    def epochs_done(self):
        return self._native.epochs_done

    def predict(self, images, batch_size=128, all_outputs=False):
        """P(usable) of each image of N x C x H x W floats in [0, 1], as `dasnet predict` gives it;
        all_outputs: the N x K probabilities instead (its p0..pK-1 columns)."""
        return self._native.predict(images, batch_size, all_outputs)

    def p_usable(self, record, stride=None, batch_size=64):
        """The usable-energy map of a Record, a DASCore Patch or a DAS file path, as `dasnet infer`
        computes it. stride: (channels, samples) the window moves by, default the image size."""
        sc, st = (0, 0) if stride is None else stride
        if isinstance(record, (str, os.PathLike)):
            found = self._native.map_file(os.fspath(record), sc, st, batch_size)
        else:
            if not isinstance(record, Record):
                record = from_dascore(record)
            m = record.metadata
            found = self._native.map_array(record.data, m["sampling_rate_hz"], m["channel_spacing_m"],
                                           m["distance_start_m"], m["start_time_ns"] or 0, m["file"], sc, st,
                                           batch_size)
        found["start_time"] = np.datetime64(found.pop("start_time_ns"), "ns")
        return UsableEnergyMap(**found)


def _flags(options):
    """Keywords as `dasnet train` flags: depth=14 -> --depth 14, no_progress=True -> --no-progress."""
    args = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is not False and value is not None:
            args += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return args


def train(on_epoch=None, **options):
    """Trains as `dasnet train` does, its flags as keywords (data="ds.h5", depth=14, batch_size=128,
    lr=0.001, epochs=40, checkpoint_dir="ck", no_progress=True, ...). on_epoch(metrics) is called
    after every epoch, once its checkpoint is written, with that epoch's metrics (a dict: the
    --metrics line); what it raises stops the training. Returns the list of the epochs' metrics."""
    epochs = []

    def collect(line):
        metrics = json.loads(line)
        epochs.append(metrics)
        if on_epoch is not None:
            on_epoch(metrics)

    _dasnet.train(_flags(options), collect)
    return epochs
