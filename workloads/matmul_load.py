#!/usr/bin/env python3
"""Matrix-multiply load: square fp32 matrix products, back to back, for a fixed time.

A steady, compute-bound load for validating energy measurement (scripts/gpu_validation.sh): two
random N x N matrices are made once on the device, then C = A @ B is computed into the same output
buffer again and again until --seconds have passed. Each product costs 2 N^3 floating-point
operations; the JSON line reports the iterations done, the total flops and the achieved rate.

On CUDA the products are queued in chunks and the device is synchronised after each chunk (the
chunk is sized to about 50 ms of work after the first one), so the clock is checked without
draining the queue after every product. TF32 stays off (PyTorch's default for matmul since 1.12)
unless --allow-tf32 is given; the line says which. An item is one matrix product.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Dict

import common

WORKLOAD = "matmul_load"
DTYPES = ("float32", "float16", "bfloat16")
CHUNK_TARGET_S = 0.05  # work queued between two clock checks on CUDA


def build_parser() -> argparse.ArgumentParser:
    parser = common.make_parser(WORKLOAD, __doc__.split("\n\n", 1)[0])
    parser.add_argument("--seconds", type=common.positive_float, default=30.0,
                        help="how long the timed products run, in seconds (default: 30)")
    parser.add_argument("--size", type=common.positive_int, default=None,
                        help="matrix size N (default: 8192 on CUDA, 1024 on the CPU)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32",
                        help="element type (default: float32)")
    parser.add_argument("--warmup", type=common.non_negative_int, default=3,
                        help="untimed products first (cuBLAS and allocator set-up; default: 3)")
    parser.add_argument("--allow-tf32", action="store_true",
                        help="let float32 products use TF32 tensor cores (Ampere and later)")
    return parser


def run(args: argparse.Namespace, phases: common.Phases) -> Dict[str, Any]:
    torch = common.import_phase(phases, need_torchvision=False)
    device = common.select_device(torch, args.device)
    phases.bind(torch, device)
    common.configure(torch, args)
    size = args.size if args.size is not None else (8192 if device.type == "cuda" else 1024)
    dtype = getattr(torch, args.dtype)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = args.allow_tf32
    common.log(WORKLOAD, f"device {device}, {size} x {size} {args.dtype}, {args.seconds} s")

    with phases.phase("load"):
        a = torch.randn(size, size, dtype=dtype, device=device)
        b = torch.randn(size, size, dtype=dtype, device=device)
        c = torch.empty(size, size, dtype=dtype, device=device)

    with torch.inference_mode():
        with phases.phase("warmup"):
            for _ in range(args.warmup):
                torch.matmul(a, b, out=c)
        iterations = 0
        chunk = 1
        with phases.phase("run"):
            start = time.monotonic()
            deadline = start + args.seconds
            while True:
                chunk_start = time.monotonic()
                for _ in range(chunk):
                    torch.matmul(a, b, out=c)
                common.synchronize(torch, device)
                iterations += chunk
                now = time.monotonic()
                if now >= deadline:
                    break
                per_product = (now - chunk_start) / chunk
                # Enough products to fill about CHUNK_TARGET_S, never past the deadline by much.
                remaining = deadline - now
                chunk = max(1, int(min(CHUNK_TARGET_S, remaining) / per_product)) \
                    if per_product > 0 else chunk * 2
        if not bool(torch.isfinite(c[0, 0])):
            # Random normal inputs give finite sums; anything else means a broken kernel.
            raise common.WorkloadError(f"run matmul: non-finite result {float(c[0, 0])}")

    run_s = phases.seconds["run"]
    flops_per_product = 2 * size ** 3
    flops = flops_per_product * iterations
    result = common.base_result(WORKLOAD, torch, device, args)
    result.update({
        "item": "product",
        "items": iterations,
        "warmup_items": args.warmup,
        "batch_size": 1,
        "dtype": args.dtype,
        "model": "torch.matmul",
        "weights": "random",
        "inference_mode": True,
        "iterations": iterations,
        "flops": flops,
        "wall_s": round(run_s, 6),
        "tflops_per_s": round(flops / run_s / 1e12, 6) if run_s > 0 else None,
        "params": {
            "size": size,
            "seconds": args.seconds,
            "dtype": args.dtype,
            "allow_tf32": bool(args.allow_tf32) if device.type == "cuda" else None,
            "flops_per_product": flops_per_product,
            "warmup_iterations": args.warmup,
        },
    })
    common.log(WORKLOAD, f"{iterations} products in {run_s:.3f} s, "
                         f"{flops / run_s / 1e12 if run_s > 0 else 0:.3f} TFLOP/s")
    return common.finish_result(result, phases)


if __name__ == "__main__":
    sys.exit(common.main(WORKLOAD, build_parser(), run))
