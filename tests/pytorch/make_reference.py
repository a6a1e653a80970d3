"""Regenerates tests/reference/*: PyTorch's forward outputs, loss, parameter gradients and
updated batchnorm statistics for ResNets of depth 2, 8 and 14 on fixed random inputs, which
tests/engine/test_pytorch_reference.cpp compares dasnet against. Run: python3 tests/pytorch/make_reference.py
Each case is NAME.json (tensor name -> offset, shape in the blob) + NAME.bin (float32 LE)."""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet_torch import ResNet  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference")


def save(name, tensors):
    header, blobs, offset = {}, [], 0
    for key, t in tensors.items():
        a = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4"))
        header[key] = {"offset": offset, "shape": list(a.shape)}
        blobs.append(a.tobytes())
        offset += a.size
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(b"".join(blobs))
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump({"generator": "tests/pytorch/make_reference.py", "torch": torch.__version__, "tensors": header}, f, indent=1)


def case(name, depth, outputs, mode, batch=4, size=32, channels=1, block="basic", seed=0):
    torch.manual_seed(seed)
    model = ResNet(depth=depth, in_channels=channels, outputs=outputs, block=block).train()
    x = torch.rand(batch, channels, size, size)
    if mode == "softmax":
        labels = torch.arange(batch) % outputs
    else:
        labels = torch.arange(batch) % 2
    tensors = {"input": x, "labels": labels.float()}
    for k, v in model.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            tensors["init." + k] = v.clone()
    logits = model(x)
    if mode == "softmax":
        loss = F.cross_entropy(logits, labels)
    else:
        loss = F.binary_cross_entropy_with_logits(logits[:, 0], labels.float())
    loss.backward()
    tensors["logits"] = logits
    tensors["loss"] = loss.reshape(1)
    for k, p in model.named_parameters():
        tensors["grad." + k] = p.grad
    for k, v in model.state_dict().items():
        if "running" in k:
            tensors["after." + k] = v
    save(name, tensors)
    print("wrote", name, "params", sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    case("depth2_softmax", 2, 2, "softmax")
    case("depth8_softmax", 8, 2, "softmax", seed=1)
    case("depth14_softmax", 14, 2, "softmax", seed=2)
    case("depth8_sigmoid", 8, 1, "sigmoid", seed=3)
    case("depth11_bottleneck", 11, 3, "softmax", block="bottleneck", seed=4, channels=3)
