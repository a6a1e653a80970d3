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


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(1)
    main(sys.argv[1], sys.argv[2:])
