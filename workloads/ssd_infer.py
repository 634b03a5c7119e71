#!/usr/bin/env python3
"""Single-shot object-detector inference with torchvision's detection models, random weights, fp32.

MLPerf's "SSD" benchmark has been, since MLPerf Training v2.0 and Inference v2.1, a RetinaNet
with a ResNeXt50-32x4d FPN backbone on 800 x 800 images (OpenImages, 264 classes); earlier
rounds used SSD-ResNet34. The MLPerf reference implementation (mlcommons/training,
single_stage_detector/ssd/model/retinanet.py, retinanet_resnext50_32x4d_fpn) builds it from its
own copy of torchvision's detection code. torchvision 0.14 has no builder for it but has every
part, so the default model here is built the same way:

  retinanet_resnext50_32x4d_fpn (default): torchvision's RetinaNet class on
      resnet_fpn_backbone("resnext50_32x4d", returned layers 2-4, LastLevelP6P7(256, 256)), i.e.
      torchvision's retinanet_resnet50_fpn with MLPerf's backbone; 264 classes, 800 x 800 px;
  retinanet_resnet50_fpn: torchvision's own builder (ResNet-50 backbone), 91 classes;
  ssd300_vgg16: torchvision's classic SSD (VGG-16, always resized to 300 x 300), 91 classes.

Weights are random (weights=None, weights_backbone=None: nothing is downloaded). The
backbone and heads then do the same arithmetic as trained ones, but the post-processing does
not: a random RetinaNet scores every anchor near its prior (0.01), under the 0.05 threshold, so
no box reaches non-maximum suppression. --score-thresh 0 sends every level's top 1000 candidates
through it, the most a trained model could cause; the JSON line reports detections per image.
The detector's transform is set to keep --image-size (min_size = max_size = size) for the
RetinaNets, so the image is processed at the size given. Inputs are random images uniform
in [0, 1) (the model normalises them itself). An item is one image (iterations x batch).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, Tuple

import common

WORKLOAD = "ssd_infer"
MODELS = ("retinanet_resnext50_32x4d_fpn", "retinanet_resnet50_fpn", "ssd300_vgg16")
DEFAULT_CLASSES = {"retinanet_resnext50_32x4d_fpn": 264,  # MLPerf's OpenImages subset
                   "retinanet_resnet50_fpn": 91, "ssd300_vgg16": 91}  # torchvision's COCO
MODEL_NOTES = {
    "retinanet_resnext50_32x4d_fpn":
        "MLPerf's detector (RetinaNet, ResNeXt50-32x4d FPN backbone) rebuilt from torchvision "
        "0.14 parts",
    "retinanet_resnet50_fpn":
        "torchvision's RetinaNet builder: MLPerf's detector with a ResNet-50 backbone",
    "ssd300_vgg16": "torchvision's SSD300 with VGG-16, the original single-shot detector",
}


def build_parser() -> argparse.ArgumentParser:
    parser = common.make_parser(WORKLOAD, __doc__.split("\n\n", 1)[0])
    parser.add_argument("--model", choices=MODELS, default=MODELS[0],
                        help=f"detector (default: {MODELS[0]})")
    parser.add_argument("--image-size", type=common.positive_int, default=800,
                        help="side of the square input images in px, at least 64 (default: 800, "
                             "MLPerf's)")
    parser.add_argument("--batch", type=common.positive_int, default=1,
                        help="images per forward pass (default: 1)")
    parser.add_argument("--iterations", type=common.positive_int, default=100,
                        help="timed forward passes (default: 100)")
    parser.add_argument("--warmup", type=common.non_negative_int, default=3,
                        help="untimed forward passes first (default: 3)")
    parser.add_argument("--num-classes", type=common.positive_int, default=None,
                        help="classes including background (default: 264 for the ResNeXt "
                             "RetinaNet as MLPerf, 91 for the others as torchvision)")
    parser.add_argument("--score-thresh", type=float, default=None,
                        help="minimum class score of a detection, 0 to 1 (default: the model's, "
                             "0.05 for RetinaNet as MLPerf, 0.01 for SSD300)")
    common.add_inference_mode_flag(parser)
    return parser


def validate(args: argparse.Namespace) -> str:
    if args.image_size < 64:
        # Below this the smallest feature maps of the backbones (stride 128 with P7) vanish.
        return f"argument --image-size: {args.image_size} px is too small (at least 64)"
    if args.num_classes is not None and args.num_classes < 2:
        return "argument --num-classes: a detector needs at least 2 classes (one is background)"
    if args.score_thresh is not None and not 0.0 <= args.score_thresh <= 1.0:
        return f"argument --score-thresh: {args.score_thresh} is not between 0 and 1"
    return ""


def build_model(args: argparse.Namespace, num_classes: int) -> Tuple[Any, int]:
    """The detector, and the side in px the model actually processes."""
    # pylint: disable=import-outside-toplevel
    from torchvision.models import detection
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    size = args.image_size
    options: Dict[str, Any] = {}
    if args.score_thresh is not None:
        options["score_thresh"] = args.score_thresh
    if args.model == "retinanet_resnext50_32x4d_fpn":
        # As torchvision's retinanet_resnet50_fpn builds its backbone (returned layers 2-4, P6/P7
        # from P5's 256 channels), with MLPerf's ResNeXt50-32x4d instead of ResNet-50.
        backbone = resnet_fpn_backbone(backbone_name="resnext50_32x4d", weights=None,
                                       trainable_layers=3, returned_layers=[2, 3, 4],
                                       extra_blocks=LastLevelP6P7(256, 256))
        return detection.RetinaNet(backbone, num_classes, min_size=size, max_size=size,
                                   **options), size
    if args.model == "retinanet_resnet50_fpn":
        return detection.retinanet_resnet50_fpn(weights=None, weights_backbone=None,
                                                num_classes=num_classes,
                                                min_size=size, max_size=size, **options), size
    return detection.ssd300_vgg16(weights=None, weights_backbone=None,
                                  num_classes=num_classes, **options), 300


def run(args: argparse.Namespace, phases: common.Phases) -> Dict[str, Any]:
    torch = common.import_phase(phases, need_torchvision=True)
    device = common.select_device(torch, args.device)
    phases.bind(torch, device)
    common.configure(torch, args)
    num_classes = args.num_classes or DEFAULT_CLASSES[args.model]

    with phases.phase("load"):
        model, processed_size = build_model(args, num_classes)
        model.to(device)
        model.eval()
        images = [torch.rand(3, args.image_size, args.image_size, device=device)
                  for _ in range(args.batch)]
    common.log(WORKLOAD, f"device {device}, {args.model} ({num_classes} classes), batch "
                         f"{args.batch} x {args.image_size} px (processed at {processed_size} px), "
                         f"{args.warmup} warm-up + {args.iterations} timed passes")

    detections = 0
    with common.grad_context(torch, args.inference_mode):
        with phases.phase("warmup"):
            for _ in range(args.warmup):
                model(images)
        with phases.phase("run"):
            for _ in range(args.iterations):
                outputs = model(images)
                # Post-processing already waits for the device (data-dependent shapes), so
                # counting the boxes adds no synchronisation.
                detections += sum(int(output["boxes"].shape[0]) for output in outputs)
    if len(outputs) != args.batch:
        raise common.WorkloadError(
            f"run {args.model}: {len(outputs)} outputs for a batch of {args.batch}")
    items = args.iterations * args.batch
    common.log(WORKLOAD, f"{args.iterations} passes in {phases.seconds['run']:.3f} s, "
                         f"{detections / items:.1f} detections per image")

    result = common.base_result(WORKLOAD, torch, device, args)
    result.update({
        "item": "image",
        "items": items,
        "warmup_items": args.warmup * args.batch,
        "batch_size": args.batch,
        "model": f"torchvision.models.detection {args.model}",
        "model_note": MODEL_NOTES[args.model],
        "weights": "random",
        "inference_mode": args.inference_mode,
        "params": {
            "model": args.model,
            "image_size": args.image_size,
            "processed_size": processed_size,
            "num_classes": num_classes,
            "score_thresh": float(model.score_thresh),
            "iterations": args.iterations,
            "warmup_iterations": args.warmup,
            "detections_per_image": round(detections / items, 6),
        },
    })
    return common.finish_result(result, phases)


if __name__ == "__main__":
    sys.exit(common.main(WORKLOAD, build_parser(), run, validate))
