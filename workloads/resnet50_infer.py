#!/usr/bin/env python3
"""ResNet-50 inference: the workload of the TU Delft Docker-images study, made repeatable.

The study (Terna, Visoiu, Tosa, Paun, "Measuring the Energy Consumption of Docker Images for ML
Workloads", TU Delft 2025; its script is docker_workload/benchmark.py in the public repository
anaterna/sustainablesoftware) ran torchvision's ResNet-50 with its default ImageNet weights, in
eval mode, batch 1, fp32, on one random 3-channel image per size, uniform in [0, 1) and normalised
with the ImageNet mean and standard deviation as PyTorch documents, for

    256 px x 400, 512 px x 200, 1024 px x 133 and 2048 px x 100 inferences

(int(400 / k) for the k-th size), seeded with 0, with cuDNN deterministic and its autotuner off,
no warm-up inside the script and autograd left enabled. This script does the same, in the same
order (so with the default seed the random images are the study's on CPU), with these
differences, each switchable:

- inference runs under torch.inference_mode() (what PyTorch recommends for inference);
  --no-inference-mode reproduces the study exactly;
- the weights are the default weights only when they are already on disk (the torch hub cache,
  $TORCH_HOME/hub/checkpoints, where torchvision would have downloaded them) or given as a file:
  this script never downloads. Otherwise the weights are random, and the JSON line says which.
  Random weights do the same arithmetic, so time and energy do not depend on them;
- --scale multiplies the inference counts (rounded up, at least 1) for quick runs, --sizes picks
  sizes, --warmup adds untimed inferences per size (the study had none; its 60 s warm-up ran
  outside the container).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

import common

WORKLOAD = "resnet50_infer"
# (image size in px, inferences): the study's int(400 / k) for the k-th size.
STUDY_COUNTS: Dict[int, int] = {256: 400, 512: 200, 1024: 133, 2048: 100}
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
WEIGHT_CHOICES = ("auto", "random", "cached")


def parse_sizes(text: str) -> List[int]:
    """argparse type: comma-separated subset of the study's sizes, kept in the study's order."""
    sizes = []
    for part in text.split(","):
        part = part.strip()
        try:
            size = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not an integer") from None
        if size not in STUDY_COUNTS:
            raise argparse.ArgumentTypeError(
                f"{size} is not one of the study's sizes "
                f"({', '.join(str(s) for s in STUDY_COUNTS)})")
        if size in sizes:
            raise argparse.ArgumentTypeError(f"size {size} given twice")
        sizes.append(size)
    return sorted(sizes)


def build_parser() -> argparse.ArgumentParser:
    parser = common.make_parser(WORKLOAD, __doc__.split("\n\n", 1)[0])
    parser.add_argument("--sizes", type=parse_sizes, default=sorted(STUDY_COUNTS),
                        help="comma-separated image sizes in px, from 256,512,1024,2048 "
                             "(default: all four)")
    parser.add_argument("--scale", type=common.positive_float, default=1.0,
                        help="multiply the study's inference counts (400, 200, 133, 100) by F, "
                             "rounding up to at least 1 (default: 1)")
    parser.add_argument("--warmup", type=common.non_negative_int, default=0,
                        help="untimed inferences before each size's timed ones (default: 0, "
                             "as the study)")
    parser.add_argument("--weights", default="auto",
                        help="auto (the default ImageNet weights if cached locally, else "
                             "random), random, cached (fail unless cached), or the path of a "
                             "state-dict file (default: auto)")
    common.add_inference_mode_flag(parser)
    return parser


def validate(args: argparse.Namespace) -> str:
    if args.weights not in WEIGHT_CHOICES and not os.path.isfile(args.weights):
        return (f"argument --weights: {args.weights!r} is neither one of "
                f"{', '.join(WEIGHT_CHOICES)} nor an existing file")
    return ""


def cached_default_weights(torch: Any) -> Optional[Tuple[Any, str]]:
    """The first of torchvision's ResNet-50 ImageNet weights already in the hub cache, or None."""
    from torchvision.models import ResNet50_Weights  # pylint: disable=import-outside-toplevel
    # torch.hub.load_state_dict_from_url stores a URL's file as <hub dir>/checkpoints/<basename>.
    checkpoints = os.path.join(torch.hub.get_dir(), "checkpoints")
    candidates = [ResNet50_Weights.DEFAULT] + [w for w in ResNet50_Weights
                                               if w is not ResNet50_Weights.DEFAULT]
    for weights in candidates:
        path = os.path.join(checkpoints, os.path.basename(weights.url))
        if os.path.isfile(path):
            return weights, path
    return None


def load_weights(torch: Any, model: Any, choice: str) -> Tuple[str, Optional[str]]:
    """Load the weights --weights asks for into `model`; return (label, file or None)."""
    if choice == "random":
        return "random", None
    if choice in ("auto", "cached"):
        found = cached_default_weights(torch)
        if found is None:
            if choice == "cached":
                from torchvision.models import ResNet50_Weights  # pylint: disable=C0415
                url = ResNet50_Weights.DEFAULT.url
                target = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))
                raise common.WorkloadError(
                    f"load weights ResNet50_Weights.DEFAULT: not in the torch hub cache "
                    f"({os.path.dirname(target)})",
                    hint=f"download {url} to {target} on a machine with network access, or use "
                         f"--weights random")
            return "random", None
        weights, path = found
        common.log(WORKLOAD, f"loading cached weights {weights} from {path}")
        try:
            state = torch.load(path, map_location="cpu")
            model.load_state_dict(state)
        except Exception as error:  # torch raises RuntimeError, pickle errors, OSError, ...
            raise common.WorkloadError(
                f"load weights {path}: {type(error).__name__}: {error}",
                hint="delete the damaged file, or use --weights random") from None
        return str(weights).rsplit(".", 1)[-1], path
    path = choice  # validate() has checked that the file exists
    try:
        state = torch.load(path, map_location="cpu")
        # Training checkpoints often wrap the weights as {"state_dict": ..., "epoch": ...}.
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        model.load_state_dict(state)
    except Exception as error:  # torch raises RuntimeError, pickle errors, OSError, ...
        raise common.WorkloadError(
            f"load weights {path}: {type(error).__name__}: {error}",
            hint="the file must hold a torchvision ResNet-50 state dict") from None
    return "file", os.path.abspath(path)


def run(args: argparse.Namespace, phases: common.Phases) -> Dict[str, Any]:
    torch = common.import_phase(phases, need_torchvision=True)
    import torchvision  # pylint: disable=import-outside-toplevel
    from torchvision import transforms  # pylint: disable=import-outside-toplevel

    device = common.select_device(torch, args.device)
    phases.bind(torch, device)
    common.configure(torch, args)
    # As the study: deterministic cuDNN kernels, no autotuning (both only matter on CUDA).
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    counts = {size: common.scaled_count(STUDY_COUNTS[size], args.scale) for size in args.sizes}
    common.log(WORKLOAD, f"device {device}, sizes {counts}, "
                         f"inference_mode {'on' if args.inference_mode else 'off'}")

    with phases.phase("load"):
        # Built with random initialisation first, then loaded, as torchvision does, so the random
        # generator is in the same state afterwards whichever weights are used.
        model = torchvision.models.resnet50(weights=None)
        weights_label, weights_file = load_weights(torch, model, args.weights)
        model.to(device)
        model.eval()
        normalize = transforms.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD)
        # One random image per size, drawn in the study's order.
        images = {size: normalize(torch.rand(1, 3, size, size)).to(device) for size in args.sizes}
    common.log(WORKLOAD, f"weights: {weights_label}")

    per_size: Dict[str, Dict[str, Any]] = {}
    output_shape: List[int] = []
    with common.grad_context(torch, args.inference_mode):
        for size in args.sizes:
            image = images[size]
            with phases.phase("warmup"):
                for _ in range(args.warmup):
                    model(image)
            run_before = phases.seconds.get("run", 0.0)
            with phases.phase("run"):
                for _ in range(counts[size]):
                    output = model(image)
            run_s = phases.seconds["run"] - run_before
            output_shape = list(output.shape)
            per_size[str(size)] = {
                "items": counts[size],
                "warmup_items": args.warmup,
                "run_s": round(run_s, 6),
                "mean_ms": round(run_s / counts[size] * 1000.0, 6),
            }
            common.log(WORKLOAD, f"{size} px: {counts[size]} inferences in {run_s:.3f} s")
    if output_shape != [1, 1000]:
        raise common.WorkloadError(f"run resnet50: unexpected output shape {output_shape}")

    result = common.base_result(WORKLOAD, torch, device, args)
    result.update({
        "item": "inference",
        "items": sum(counts.values()),
        "warmup_items": args.warmup * len(args.sizes),
        "batch_size": 1,
        "model": "torchvision.models.resnet50",
        "weights": weights_label,
        "weights_file": weights_file,
        "inference_mode": args.inference_mode,
        "params": {
            "sizes": args.sizes,
            "scale": args.scale,
            "normalize": {"mean": IMAGENET_MEAN, "std": IMAGENET_STD},
            "cudnn_deterministic": True,
            "cudnn_benchmark": False,
        },
        "per_size": per_size,
    })
    return common.finish_result(result, phases)


if __name__ == "__main__":
    sys.exit(common.main(WORKLOAD, build_parser(), run, validate))
