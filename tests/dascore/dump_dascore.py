#!/usr/bin/env python3
"""Writes DASCore's reading of DAS files to one HDF5 file, for the agreement test
(tests/test_dascore_agreement.cpp).

usage: dump_dascore.py OUT.h5 IN...

For input k, group /file<k> holds attribute `path` and either `error` (DASCore's message when it
cannot read the file) or, per patch j of dascore.read(IN) in its order, a group p<j> with:
  data            the samples as DASCore returns them (its dtype, its dim order)
  dims            "time,distance" etc.
  <dim>_min/_max/_step/_len  per coordinate: time in integer ns since the epoch (step in ns),
                  other dims as float64
  <dim>_units     the coordinate's units as text ("" when none)
  dtype           numpy's name of the data type ("int16", "float32", ...)
Where DASCore cannot read a file that another reader here can (xdas netCDF4: DASCore has no
xdas reader), /file<k> keeps `error` and p0 holds that independent reading (h5py and numpy,
written from the format's definition), with attribute `reader` saying which.
Exit 2 when dascore cannot be imported (the test then skips).
"""
import sys

try:
    import dascore as dc
    import h5py
    import numpy as np
except ImportError as error:  # the C++ test turns this into a skip
    print(f"dascore not importable: {error}", file=sys.stderr)
    sys.exit(2)


def as_number(value, is_time):
    """Coordinate values as int ns (times) or float (others)."""
    if is_time:
        return int(np.datetime64(value, "ns").astype("int64"))
    return float(value)


def as_step(value, is_time):
    if is_time:
        return int(np.timedelta64(value, "ns").astype("int64"))
    return float(value)


def write_patch(group, patch):
    group["data"] = np.asarray(patch.data)
    group.attrs["dims"] = ",".join(patch.dims)
    group.attrs["dtype"] = str(np.asarray(patch.data).dtype)
    for dim in patch.dims:
        coord = patch.get_coord(dim)
        is_time = np.issubdtype(np.asarray(coord.min()).dtype, np.datetime64)
        group.attrs[f"{dim}_min"] = as_number(coord.min(), is_time)
        group.attrs[f"{dim}_max"] = as_number(coord.max(), is_time)
        step = coord.step
        group.attrs[f"{dim}_step"] = as_step(step, is_time) if step is not None else float("nan")
        group.attrs[f"{dim}_len"] = len(coord)
        group.attrs[f"{dim}_units"] = str(coord.units) if coord.units is not None else ""


# ---- independent readings of files DASCore cannot read --------------------------------


def read_xdas(path):
    """xdas netCDF4: the 2-D variable with CF tie points (coordinate_interpolation), coordinates
    interpolated linearly between the tie indices as xdas does; dims from the HDF5 dimension
    scales (DIMENSION_LIST). Returns (data, dims, coords) or None when the file is not xdas."""
    with h5py.File(path, "r") as h5:
        for name, var in h5.items():
            if not isinstance(var, h5py.Dataset) or "coordinate_interpolation" not in var.attrs:
                continue
            words = str(var.attrs["coordinate_interpolation"]).split()
            ties = {words[i].rstrip(":"): (words[i + 1], words[i + 2]) for i in range(0, len(words), 3)}
            dims = [var.dims[k][0].name.lstrip("/") for k in range(var.ndim)]
            coords = {}
            for axis, dim in enumerate(dims):
                indices, values = ties[dim]
                tie_index = h5[indices][()]
                tie_value = h5[values][()]
                full = np.interp(np.arange(var.shape[axis]), tie_index, tie_value.astype("float64"))
                units = h5[values].attrs.get("units", "")
                units = units.decode() if isinstance(units, bytes) else str(units)
                if " since " in units:  # CF time: "<unit> since <time>"
                    unit, epoch = units.split(" since ")
                    scale = {"nanoseconds": 1, "microseconds": 1e3, "milliseconds": 1e6, "seconds": 1e9}[unit]
                    origin = np.datetime64(epoch.strip().replace(" ", "T"), "ns").astype("int64")
                    full = (origin + np.round(full * scale).astype("int64")).view("datetime64[ns]")
                coords[dim] = full
            return var[()], dims, coords
    return None


def write_reading(group, data, dims, coords, reader):
    """Writes an independent reading in the layout of write_patch."""
    group["data"] = data
    group.attrs["reader"] = reader
    group.attrs["dims"] = ",".join(dims)
    group.attrs["dtype"] = str(data.dtype)
    for dim in dims:
        values = coords[dim]
        is_time = np.issubdtype(values.dtype, np.datetime64)
        as_num = (lambda v: int(v.astype("datetime64[ns]").astype("int64"))) if is_time else float
        group.attrs[f"{dim}_min"] = as_num(values[0])
        group.attrs[f"{dim}_max"] = as_num(values[-1])
        step = (values[-1] - values[0]) / (len(values) - 1)
        group.attrs[f"{dim}_step"] = int(step.astype("timedelta64[ns]").astype("int64")) if is_time else float(step)
        group.attrs[f"{dim}_len"] = len(values)
        group.attrs[f"{dim}_units"] = ""


def write_independent(group, path):
    if not h5py.is_hdf5(path):  # the independent readers here are of HDF5 layouts only
        return
    reading = read_xdas(path)
    if reading is not None:
        write_reading(group.create_group("p0"), *reading, "h5py + numpy (xdas tie points)")


def main(out_path, inputs):
    with h5py.File(out_path, "w") as out:
        for k, path in enumerate(inputs):
            group = out.create_group(f"file{k}")
            group.attrs["path"] = path
            try:
                # dascore.read is the format's reader; dascore.spool adds its own merging,
                # which drops the first row of a Febus block (a known slip).
                patches = list(dc.read(path))
                if not patches:
                    raise ValueError("DASCore found no patch in the file")
                for j, patch in enumerate(patches):
                    write_patch(group.create_group(f"p{j}"), patch)
            except Exception as error:  # any DASCore failure is reported, not fatal
                group.attrs["error"] = f"{type(error).__name__}: {error}"[:2000]
                for name in list(group):
                    del group[name]
                write_independent(group, path)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(1)
    main(sys.argv[1], sys.argv[2:])
