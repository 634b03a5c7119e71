#!/usr/bin/env python3
"""ResNet-50 training on random data, as the PyTorch benchmark suite's resnet50 train test.

Like pytorch/benchmark's `resnet50` model in train mode: torchvision's ResNet-50 (random
initialisation), one fixed batch of random 224 px images (default 32 per batch) with random
labels, kept on the device, so no data loading is measured; each iteration does zero_grad,
forward, cross-entropy loss, backward and an SGD step (lr 0.1, momentum 0.9), fp32.
Warm-up iterations (first-call allocations, kernel selection) are timed separately and not
counted as items; an item is one training sample (iterations x batch).
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any, Dict, Optional

import common

WORKLOAD = "resnet50_train"


def build_parser() -> argparse.ArgumentParser:
    parser = common.make_parser(WORKLOAD, __doc__.split("\n\n", 1)[0])
    parser.add_argument("--batch", type=common.positive_int, default=32,
                        help="images per batch (default: 32)")
    parser.add_argument("--iterations", type=common.positive_int, default=100,
                        help="timed training iterations (default: 100)")
    parser.add_argument("--warmup", type=common.non_negative_int, default=5,
                        help="untimed iterations first (default: 5)")
    parser.add_argument("--image-size", type=common.positive_int, default=224,
                        help="image side in px (default: 224; at least 32)")
    parser.add_argument("--num-classes", type=common.positive_int, default=1000,
                        help="classes of the final layer and the random labels (default: 1000)")
    parser.add_argument("--lr", type=common.positive_float, default=0.1,
                        help="SGD learning rate (default: 0.1)")
    parser.add_argument("--momentum", type=float, default=0.9,
                        help="SGD momentum, 0 to 1 (default: 0.9)")
    return parser


def validate(args: argparse.Namespace) -> str:
    if args.image_size < 32:
        # Five stride-2 stages: below 32 px the last stage has no pixels left.
        return (f"argument --image-size: {args.image_size} px is too small for ResNet-50 "
                f"(at least 32)")
    if not (math.isfinite(args.momentum) and 0.0 <= args.momentum <= 1.0):
        return f"argument --momentum: {args.momentum} is not between 0 and 1"
    return ""


def finite_or_none(value: float) -> Optional[float]:
    """JSON has no NaN or infinity: report those as null."""
    return round(value, 6) if math.isfinite(value) else None


def run(args: argparse.Namespace, phases: common.Phases) -> Dict[str, Any]:
    torch = common.import_phase(phases, need_torchvision=True)
    import torchvision  # pylint: disable=import-outside-toplevel

    device = common.select_device(torch, args.device)
    phases.bind(torch, device)
    common.configure(torch, args)
    common.log(WORKLOAD, f"device {device}, batch {args.batch} x {args.image_size} px, "
                         f"{args.warmup} warm-up + {args.iterations} timed iterations")

    with phases.phase("load"):
        model = torchvision.models.resnet50(weights=None, num_classes=args.num_classes)
        model.to(device)
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
        loss_fn = torch.nn.CrossEntropyLoss()
        images = torch.randn(args.batch, 3, args.image_size, args.image_size, device=device)
        labels = torch.randint(0, args.num_classes, (args.batch,), device=device)

    def step() -> Any:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss

    first_loss = None
    with phases.phase("warmup"):
        for _ in range(args.warmup):
            loss = step()
    with phases.phase("run"):
        for iteration in range(args.iterations):
            loss = step()
            if iteration == 0:
                first_loss = loss.detach()
    final_loss = float(loss.item())
    first_loss_value = float(first_loss.item()) if first_loss is not None else final_loss
    if not math.isfinite(final_loss):
        # The arithmetic done (and so time and energy) does not depend on the values; say it and
        # report null rather than fail a long measured run.
        common.log(WORKLOAD, f"warning: the loss became {final_loss}; lower --lr to avoid it")
    common.log(WORKLOAD, f"{args.iterations} iterations in {phases.seconds['run']:.3f} s, "
                         f"loss {first_loss_value:.4f} -> {final_loss:.4f}")

    result = common.base_result(WORKLOAD, torch, device, args)
    result.update({
        "item": "sample",
        "items": args.iterations * args.batch,
        "warmup_items": args.warmup * args.batch,
        "batch_size": args.batch,
        "model": "torchvision.models.resnet50",
        "weights": "random",
        "inference_mode": False,
        "params": {
            "iterations": args.iterations,
            "warmup_iterations": args.warmup,
            "image_size": args.image_size,
            "num_classes": args.num_classes,
            "optimizer": "SGD",
            "lr": args.lr,
            "momentum": args.momentum,
            "loss": "cross_entropy",
            "first_loss": finite_or_none(first_loss_value),
            "final_loss": finite_or_none(final_loss),
        },
    })
    return common.finish_result(result, phases)


if __name__ == "__main__":
    sys.exit(common.main(WORKLOAD, build_parser(), run, validate))
