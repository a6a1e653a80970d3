"""PyTorch side of the CPU benchmark: the identical ResNet (tests/pytorch/resnet_torch.py) in
its fastest CPU setting (channels_last, oneDNN), training or inference on random images, one
warm-up step then timed steps. Prints one JSON line with samples/s and peak resident memory.
Usage: python3 bench/torch_train.py --depth 14 --batch 128 --size 200 --steps 3 --mode train"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "pytorch"))
from resnet_torch import ResNet  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--depth", type=int, default=14)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--size", type=int, default=200)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--mode", choices=["train", "infer"], default="train")
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = ResNet(depth=a.depth).to(memory_format=torch.channels_last)
    x = torch.rand(a.batch, 1, a.size, a.size).to(memory_format=torch.channels_last)
    y = torch.arange(a.batch) % 2
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)

    def step():
        if a.mode == "train":
            model.train()
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        else:
            model.eval()
            with torch.inference_mode():
                model(x)

    step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    seconds = time.perf_counter() - start
    print(json.dumps({"engine": "torch", "version": torch.__version__, "mode": a.mode, "depth": a.depth,
                      "batch": a.batch, "size": a.size, "threads": torch.get_num_threads(),
                      "samples_per_s": round(a.batch * a.steps / seconds, 2),
                      "step_seconds": round(seconds / a.steps, 3),
                      "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


if __name__ == "__main__":
    main()
