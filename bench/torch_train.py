"""PyTorch side of the training/inference benchmarks: the identical ResNet
(tests/pytorch/resnet_torch.py) on random images, one warm-up step (more with --compile) then
timed steps. Prints one JSON line with samples/s and peak memory.

CPU (default): its fastest CPU setting (channels_last, oneDNN); peak_mb is resident memory.
CUDA (--device cuda): cudnn.benchmark on; --precision fp32 (TF32 off), tf32, bf16 or fp16
(autocast, fp32 master weights; fp16 with a GradScaler); --memory-format channels_last or
contiguous; --compile for torch.compile. Timed steps end with torch.cuda.synchronize();
peak_mb is torch.cuda.max_memory_allocated.
Usage: python3 bench/torch_train.py --depth 14 --batch 128 --size 200 --steps 3 --mode train
       python3 bench/torch_train.py --device cuda --precision tf32 --batch 512 --steps 20"""
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
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--precision", choices=["fp32", "tf32", "bf16", "fp16"], default="fp32")
    p.add_argument("--memory-format", choices=["channels_last", "contiguous"], default="channels_last")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    cuda = a.device == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        tf32 = a.precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    elif a.precision != "fp32":
        sys.exit("--precision other than fp32 needs --device cuda")
    fmt = torch.channels_last if a.memory_format == "channels_last" else torch.contiguous_format
    torch.manual_seed(1)
    model = ResNet(depth=a.depth).to(device=a.device, memory_format=fmt)
    x = torch.rand(a.batch, 1, a.size, a.size, device=a.device).to(memory_format=fmt)
    y = (torch.arange(a.batch) % 2).to(a.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.precision)
    scaler = torch.amp.GradScaler("cuda") if a.precision == "fp16" else None
    run = torch.compile(model) if a.compile else model

    def forward():
        if autocast_dtype is not None:
            with torch.autocast(device_type="cuda", dtype=autocast_dtype):
                return run(x)
        return run(x)

    def step():
        if a.mode == "train":
            model.train()
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(forward().float(), y)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
        else:
            model.eval()
            with torch.inference_mode():
                forward()

    for _ in range(3 if a.compile else 1):
        step()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = (torch.cuda.max_memory_allocated() / 1048576 if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps({"engine": "torch", "version": torch.__version__, "mode": a.mode, "depth": a.depth,
                      "batch": a.batch, "size": a.size, "device": a.device, "precision": a.precision,
                      "memory_format": a.memory_format, "compile": a.compile,
                      "threads": torch.get_num_threads(),
                      "samples_per_s": round(a.batch * a.steps / seconds, 2),
                      "step_seconds": round(seconds / a.steps, 4),
                      "peak_mb": round(peak)}))


if __name__ == "__main__":
    main()
