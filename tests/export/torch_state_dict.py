"""Checks of `dasnet export -o model.pt` and `dasnet import` against Python's own pickle and
zipfile modules, and against PyTorch where it is installed.

    torch_state_dict.py read MODEL.pt OUT.json
        Reads MODEL.pt with a restricted unpickler of the standard library (no torch) and writes
        {name: {"dtype", "shape", "values"}} (values flattened, row-major).
    torch_state_dict.py rewrite|rewrite-stdlib MODEL.pt OUT.pt [--rename OLD=NEW] [--drop NAME] [--reshape NAME]
        Reads MODEL.pt as above and saves it again the way torch.save does: with torch.save
        where torch is installed (rewrite), otherwise (and with rewrite-stdlib) with Python's
        pickler over stand-ins of torch's classes (an OrderedDict with _metadata, memoized
        globals, protocol 2, the folder named after OUT). Either way linear.weight is stored
        transposed, with strides. Optionally renames, drops or reshapes a tensor (the
        wrong-architecture cases).
    torch_state_dict.py evil OUT.pt
        A .pt whose pickle calls os.system (must be refused, never run).
    torch_state_dict.py torch MODEL.pt RESNET_PY DEPTH BLOCK WIDTH IN_CHANNELS OUTPUTS [DS.h5 PREDICTIONS.csv]
        torch.load(weights_only=True) and load_state_dict(strict=True) into the study's ResNet
        (tests/pytorch/resnet_torch.py); with a data set and `dasnet predict`'s CSV of its test
        split, the model's eval-mode P(usable) must agree within 1e-5. Exit 77 without torch.

Exit 0 on success, 1 on a failed check, 77 for a missing module."""
import collections
import io
import json
import os
import pickle
import sys
import types
import zipfile

try:
    import numpy as np
except ImportError:
    print("skipped: numpy not installed")
    sys.exit(77)

DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64, "IntStorage": np.int32}


def read_pt(path):
    """name -> numpy array, through pickle.Unpickler admitting only what a state_dict holds."""
    with zipfile.ZipFile(path) as z:
        pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
        folder = pkl[: -len("data.pkl")]
        assert z.read(folder + "byteorder") == b"little"
        assert z.read(folder + "version").strip() in (b"3", b"2")

        def rebuild(storage, offset, shape, stride, requires_grad, hooks, *metadata):
            item = storage.itemsize
            return np.lib.stride_tricks.as_strided(storage[offset:], shape=shape,
                                                   strides=[s * item for s in stride]).copy()

        allowed = {("collections", "OrderedDict"): collections.OrderedDict,
                   ("torch._utils", "_rebuild_tensor_v2"): rebuild}
        for name, dtype in DTYPES.items():
            allowed[("torch", name)] = dtype

        class Unpickler(pickle.Unpickler):
            def find_class(self, module, name):
                return allowed[(module, name)]

            def persistent_load(self, pid):
                kind, dtype, key, location, numel = pid
                assert kind == "storage" and location == "cpu"
                data = np.frombuffer(z.read(folder + "data/" + key), dtype=np.dtype(dtype).newbyteorder("<"))
                assert data.size == numel, "storage %s: %d elements, the id says %d" % (key, data.size, numel)
                return data

        return Unpickler(io.BytesIO(z.read(pkl))).load()


def fake_torch():
    """Stand-ins that pickle under torch's names, as torch.save writes them."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise TypeError("a stand-in")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in DTYPES:
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    torch._utils = utils
    sys.modules.setdefault("torch", torch)
    sys.modules.setdefault("torch._utils", utils)
    return torch


class Storage:
    def __init__(self, key, array):
        self.key, self.array = key, np.ascontiguousarray(array)


class Tensor:
    def __init__(self, storage, shape, stride):
        self.storage, self.shape, self.stride = storage, tuple(shape), tuple(stride)

    def __reduce_ex__(self, protocol):
        return (sys.modules["torch._utils"]._rebuild_tensor_v2,
                (self.storage, 0, self.shape, self.stride, False, collections.OrderedDict()))


def save_like_torch(tensors, path):
    torch = fake_torch()
    names = {np.dtype(v): k for k, v in DTYPES.items()}
    state, storages = collections.OrderedDict(), []
    for i, (name, array) in enumerate(tensors.items()):
        if name == "linear.weight":  # stored as its transpose: a non-contiguous tensor
            storage = Storage(str(i), array.T)
            stride = (1, array.shape[0])
        else:
            storage = Storage(str(i), array)
            stride = tuple(int(np.prod(array.shape[d + 1:])) for d in range(array.ndim))  # row-major
        storages.append(storage)
        state[name] = Tensor(storage, array.shape, stride)
    state._metadata = collections.OrderedDict((m, {"version": 2 if "bn" in m else 1})
                                              for m in [""] + sorted({n.rsplit(".", 1)[0] for n in tensors}))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", getattr(torch, names[obj.array.dtype]), obj.key, "cpu", obj.array.size)
            return None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(state)
    folder = os.path.splitext(os.path.basename(path))[0] + "/"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(folder + "data.pkl", buffer.getvalue())
        z.writestr(folder + "byteorder", "little")
        for s in storages:
            z.writestr(folder + "data/" + s.key, s.array.astype(s.array.dtype.newbyteorder("<")).tobytes())
        z.writestr(folder + "version", "3\n")


def rewrite(source, target, options, use_torch=True):
    tensors = read_pt(source)
    for option in options:
        flag, value = option.split(" ", 1)
        if flag == "--rename":
            old, new = value.split("=")
            tensors = collections.OrderedDict((new if k == old else k, v) for k, v in tensors.items())
        elif flag == "--drop":
            del tensors[value]
        elif flag == "--reshape":
            tensors[value] = np.concatenate([tensors[value].ravel()] * 2).astype(tensors[value].dtype)
    try:
        if not use_torch:
            raise ImportError("the standard library's pickler asked for")
        import torch
        state = collections.OrderedDict((k, torch.from_numpy(v)) for k, v in tensors.items())
        if "linear.weight" in state:  # a transposed view: saved with its strides
            state["linear.weight"] = state["linear.weight"].t().contiguous().t()
        torch.save(state, target)
    except ImportError:
        save_like_torch(tensors, target)


def evil(target):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned > pwned.txt",))

    buffer = io.BytesIO()
    pickle.Pickler(buffer, protocol=2).dump(collections.OrderedDict([("conv1.weight", Payload())]))
    with zipfile.ZipFile(target, "w") as z:
        z.writestr("evil/data.pkl", buffer.getvalue())
        z.writestr("evil/version", "3\n")


def check_with_torch(path, resnet_py, depth, block, width, in_channels, outputs, dataset=None, predictions=None):
    try:
        import torch
    except ImportError:
        print("skipped: torch not installed (torch.load and load_state_dict not checked)")
        return 77
    state = torch.load(path, weights_only=True)
    sys.path.insert(0, os.path.dirname(resnet_py))
    from resnet_torch import ResNet
    model = ResNet(depth=int(depth), in_channels=int(in_channels), outputs=int(outputs), width=int(width), block=block)
    model.load_state_dict(state, strict=True)
    ours = read_pt(path)
    for name, tensor in state.items():
        if not np.array_equal(tensor.numpy(), ours[name]):
            print("torch.load and the stdlib reader differ on %s" % name)
            return 1
    print("torch %s: loaded %d tensors into the study's ResNet-%s (strict)" % (torch.__version__, len(state), depth))
    if dataset:
        return compare_predictions(torch, model, int(outputs), dataset, predictions)
    return 0


def compare_predictions(torch, model, outputs, dataset, predictions):
    """The PyTorch model's P(usable) in eval mode against dasnet predict's CSV (test split)."""
    import csv
    import h5py
    with h5py.File(dataset, "r") as f:
        images = torch.from_numpy(f["test/images"][...].astype(np.float32) / 255.0)
    with open(predictions) as f:
        expected = np.array([float(row["p_usable"]) for row in csv.DictReader(f)])
    model.eval()
    with torch.no_grad():
        logits = model(images)
    p = torch.sigmoid(logits[:, 0]) if outputs == 1 else torch.softmax(logits, dim=1)[:, 1]
    diff = float(np.max(np.abs(p.numpy().astype(np.float64) - expected)))
    print("PyTorch eval-mode P(usable) on %d test images: max |difference| to dasnet predict = %.3g" % (len(p), diff))
    return 0 if diff <= 1e-5 else 1


def main(argv):
    if len(argv) >= 4 and argv[1] == "read":
        out = {k: {"dtype": str(v.dtype), "shape": list(v.shape), "values": v.ravel().tolist()}
               for k, v in read_pt(argv[2]).items()}
        with open(argv[3], "w") as f:
            json.dump(out, f)
        return 0
    if len(argv) >= 4 and argv[1] in ("rewrite", "rewrite-stdlib"):
        rewrite(argv[2], argv[3], [" ".join(argv[i:i + 2]) for i in range(4, len(argv), 2)], argv[1] == "rewrite")
        return 0
    if len(argv) == 3 and argv[1] == "evil":
        evil(argv[2])
        return 0
    if len(argv) in (9, 11) and argv[1] == "torch":
        return check_with_torch(*argv[2:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
