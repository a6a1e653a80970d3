"""Runs a `dasnet export -o model.onnx` graph with ONNX Runtime on a data set split and compares
its P(usable) with `dasnet predict`'s CSV for the same split.

    python3 tests/export/onnx_agreement.py model.onnx ds.h5 predictions.csv [--split test] [--tolerance 1e-5]

Exit 0: every image agrees within the tolerance; 1: some do not (printed); 77: onnxruntime,
h5py or numpy is not installed (the caller skips)."""
import argparse
import csv
import sys

try:
    import h5py
    import numpy as np
    import onnxruntime
except ImportError as e:
    print("skipped: %s" % e)
    sys.exit(77)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("dataset")
    parser.add_argument("predictions")
    parser.add_argument("--split", default="test")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()

    with h5py.File(args.dataset, "r") as f:
        images = f[args.split + "/images"][...].astype(np.float32) / 255.0  # as dasnet's loader reads them
    with open(args.predictions) as f:
        expected = np.array([float(row["p_usable"]) for row in csv.DictReader(f)], dtype=np.float64)
    if len(expected) != len(images):
        print("%s has %d rows, the %s split %d images" % (args.predictions, len(expected), args.split, len(images)))
        return 1

    session = onnxruntime.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    logits, probabilities, p_usable = session.run(["logits", "probabilities", "p_usable"], {"images": images})
    if p_usable.shape != (len(images),) or probabilities.shape != logits.shape:
        print("unexpected output shapes: p_usable %s, probabilities %s" % (p_usable.shape, probabilities.shape))
        return 1
    diff = np.abs(p_usable.astype(np.float64) - expected)
    worst = int(np.argmax(diff))
    print("onnxruntime %s: %d images of the %s split, max |P(usable) - dasnet predict| = %.3g (image %d)"
          % (onnxruntime.__version__, len(images), args.split, diff[worst], worst))
    if diff[worst] > args.tolerance:
        print("DISAGREE: image %d: onnxruntime %.7f, dasnet %.7f" % (worst, p_usable[worst], expected[worst]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
