"""Integration tests of the reference workloads (workloads/*.py), run as real subprocesses.

Each workload runs at a tiny size on the CPU and its JSON line is checked field by field against
the schema in workloads/README.md and against the arguments given; bad arguments must exit 2 with
an argparse message and print nothing on standard output. One test runs a workload under the real
`joulebench measure --json -` (binary from $JOULEBENCH_BINARY, set by CTest).

Tests that need PyTorch are skipped (unittest skip, exit status 0) with the reason when torch
cannot be imported by this interpreter; the argument and missing-torch tests run everywhere.
Run from this folder: /usr/bin/python3 -m unittest -v test_workloads
"""

from __future__ import annotations

import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ROOT / "workloads"
PYTHON = sys.executable
TIMEOUT_S = 300


def _probe_torch() -> Tuple[Any, str]:
    try:
        import torch  # pylint: disable=import-outside-toplevel
        importlib.import_module("torchvision")
    except Exception as error:  # pylint: disable=broad-except
        return None, f"{type(error).__name__}: {error}"
    return torch, ""


TORCH, TORCH_MISSING = _probe_torch()
if TORCH is None:
    print(f"workloads tests: torch/torchvision not importable by {PYTHON} ({TORCH_MISSING}); "
          f"tests that run a workload are skipped (install python3-torch python3-torchvision)",
          file=sys.stderr)
needs_torch = unittest.skipIf(TORCH is None, f"torch not importable by {PYTHON}: {TORCH_MISSING}")


def _has_transformers() -> bool:
    try:
        importlib.import_module("transformers")
    except Exception:  # pylint: disable=broad-except
        return False
    return True


def workload_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in the source tree
    if extra:
        env.update(extra)
    return env


def run_workload(script: str, args: List[str],
                 env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, str(WORKLOADS / script), *args], capture_output=True,
                          text=True, timeout=TIMEOUT_S, env=env or workload_env(), check=False)


COMMON_FIELDS = {
    "schema_version": int, "workload": str, "item": str, "items": int, "warmup_items": int,
    "batch_size": int, "device": str, "device_name": str, "dtype": str, "torch": str,
    "python": str, "threads": int, "interop_threads": int, "blas": list, "seed": int, "model": str,
    "weights": str, "inference_mode": bool, "params": dict, "phases": dict, "total_s": float,
}


class WorkloadTestCase(unittest.TestCase):
    """Runs a workload and checks what every workload's JSON line must hold."""

    maxDiff = None

    def run_ok(self, script: str, args: List[str],
               env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
        proc = run_workload(script, args, env)
        self.assertEqual(proc.returncode, 0,
                         f"{script} {' '.join(args)} failed:\n{proc.stderr}")
        return self.parse_line(proc.stdout)

    def parse_line(self, stdout: str) -> Dict[str, Any]:
        self.assertTrue(stdout.endswith("\n"), f"stdout does not end a line: {stdout!r}")
        lines = stdout.splitlines()
        self.assertEqual(len(lines), 1, f"stdout must be exactly one line, got {len(lines)}")
        doc = json.loads(lines[0])
        self.assertIsInstance(doc, dict)
        return doc

    def check_common(self, doc: Dict[str, Any], workload: str, item: str, items: int,
                     warmup_items: int, batch_size: int) -> None:
        for field, kind in COMMON_FIELDS.items():
            self.assertIn(field, doc, f"field {field} missing")
            self.assertIsInstance(doc[field], kind, f"field {field}: {doc[field]!r}")
        self.assertEqual(doc["schema_version"], 1)
        self.assertEqual(doc["workload"], workload)
        self.assertEqual(doc["item"], item)
        self.assertEqual(doc["items"], items)
        self.assertEqual(doc["warmup_items"], warmup_items)
        self.assertEqual(doc["batch_size"], batch_size)
        self.assertEqual(doc["device"], "cpu")
        self.assertEqual(doc["dtype"], "float32")
        self.assertEqual(doc["torch"], TORCH.__version__)
        self.assertEqual(doc["cuda"], TORCH.version.cuda)
        self.assertEqual(doc["threads"], int(workload_env()["OMP_NUM_THREADS"]))
        self.assertEqual(doc["seed"], 0)
        self.assertTrue(all(isinstance(path, str) and os.path.isabs(path) for path in doc["blas"]))
        phases = doc["phases"]
        self.assertEqual(list(phases), ["import_s", "load_s", "warmup_s", "run_s"])
        for name, seconds in phases.items():
            self.assertIsInstance(seconds, (int, float), name)
            self.assertGreaterEqual(seconds, 0.0, name)
        self.assertGreater(phases["import_s"], 0.0)
        self.assertGreater(phases["load_s"], 0.0)
        self.assertGreater(phases["run_s"], 0.0)
        if warmup_items > 0:
            self.assertGreater(phases["warmup_s"], 0.0)
        # The phases are disjoint parts of the run that total_s spans (6-decimal rounding).
        self.assertGreaterEqual(doc["total_s"] + 4e-6, sum(phases.values()))
        self.assertAlmostEqual(doc["items_per_s"], items / phases["run_s"],
                               delta=1e-3 * items / phases["run_s"])

    def assert_usage_error(self, script: str, args: List[str], message: str) -> None:
        proc = run_workload(script, args)
        self.assertEqual(proc.returncode, 2, f"{args}: {proc.stderr}")
        self.assertEqual(proc.stdout, "")
        self.assertIn("error: argument", proc.stderr)
        self.assertIn(message, proc.stderr)


class ResNet50InferTest(WorkloadTestCase):
    SCRIPT = "resnet50_infer.py"

    @needs_torch
    def test_tiny_run_random_weights(self) -> None:
        with tempfile.TemporaryDirectory() as torch_home:  # an empty hub cache: random weights
            doc = self.run_ok(self.SCRIPT, ["--device", "cpu", "--scale", "0.005",
                                            "--sizes", "256", "--warmup", "1"],
                              workload_env({"TORCH_HOME": torch_home}))
        # 400 x 0.005 = 2 inferences at 256 px, plus 1 untimed warm-up.
        self.check_common(doc, "resnet50_infer", "inference", 2, 1, 1)
        self.assertEqual(doc["model"], "torchvision.models.resnet50")
        self.assertEqual(doc["weights"], "random")
        self.assertIsNone(doc["weights_file"])
        self.assertTrue(doc["inference_mode"])
        self.assertEqual(doc["torchvision"], __import__("torchvision").__version__)
        self.assertEqual(doc["params"]["sizes"], [256])
        self.assertEqual(doc["params"]["scale"], 0.005)
        self.assertEqual(doc["params"]["normalize"],
                         {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]})
        self.assertEqual(list(doc["per_size"]), ["256"])
        size = doc["per_size"]["256"]
        self.assertEqual(size["items"], 2)
        self.assertEqual(size["warmup_items"], 1)
        self.assertAlmostEqual(size["run_s"], doc["phases"]["run_s"], delta=2e-6)
        self.assertAlmostEqual(size["mean_ms"], size["run_s"] / 2 * 1000.0, delta=1e-3)

    @needs_torch
    def test_cached_default_weights_without_inference_mode(self) -> None:
        from torchvision.models import ResNet50_Weights, resnet50  # pylint: disable=C0415
        with tempfile.TemporaryDirectory() as torch_home:
            checkpoints = Path(torch_home) / "hub" / "checkpoints"
            checkpoints.mkdir(parents=True)
            # A state dict stored where torch.hub would have downloaded the default weights.
            cached = checkpoints / os.path.basename(ResNet50_Weights.DEFAULT.url)
            TORCH.save(resnet50(weights=None).state_dict(), cached)
            doc = self.run_ok(self.SCRIPT, ["--scale", "0.002", "--sizes", "256",
                                            "--no-inference-mode", "--seed", "0"],
                              workload_env({"TORCH_HOME": torch_home}))
        self.check_common(doc, "resnet50_infer", "inference", 1, 0, 1)
        self.assertEqual(doc["weights"], "IMAGENET1K_V2")
        self.assertEqual(doc["weights_file"], str(cached))
        self.assertFalse(doc["inference_mode"])
        self.assertEqual(doc["per_size"]["256"]["items"], 1)  # 400 x 0.002 = 0.8, rounded up

    @needs_torch
    def test_weights_file_wrapped_in_a_checkpoint(self) -> None:
        from torchvision.models import resnet50  # pylint: disable=C0415
        with tempfile.TemporaryDirectory() as folder:
            weights = Path(folder) / "checkpoint.pt"
            TORCH.save({"epoch": 3, "state_dict": resnet50(weights=None).state_dict()}, weights)
            doc = self.run_ok(self.SCRIPT, ["--weights", str(weights), "--scale", "0.002",
                                            "--sizes", "256"])
        self.check_common(doc, "resnet50_infer", "inference", 1, 0, 1)
        self.assertEqual(doc["weights"], "file")
        self.assertEqual(doc["weights_file"], str(weights))

    @needs_torch
    def test_damaged_cached_weights_fail_with_a_message(self) -> None:
        with tempfile.TemporaryDirectory() as torch_home:
            checkpoints = Path(torch_home) / "hub" / "checkpoints"
            checkpoints.mkdir(parents=True)
            damaged = checkpoints / "resnet50-11ad3fa6.pth"
            damaged.write_bytes(b"not a checkpoint")
            proc = run_workload(self.SCRIPT, ["--scale", "0.001", "--sizes", "256"],
                                workload_env({"TORCH_HOME": torch_home}))
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stdout, "")
        self.assertIn(f"error: resnet50_infer: load weights {damaged}:", proc.stderr)
        self.assertIn("hint: delete the damaged file", proc.stderr)

    @needs_torch
    def test_cached_weights_required_but_absent(self) -> None:
        with tempfile.TemporaryDirectory() as torch_home:
            proc = run_workload(self.SCRIPT, ["--weights", "cached", "--scale", "0.001"],
                                workload_env({"TORCH_HOME": torch_home}))
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stdout, "")
        self.assertIn("error: resnet50_infer: load weights ResNet50_Weights.DEFAULT: not in the "
                      "torch hub cache", proc.stderr)
        self.assertIn("hint: download https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
                      proc.stderr)

    @needs_torch
    def test_cuda_requested_but_absent(self) -> None:
        if TORCH.cuda.is_available():
            self.skipTest("CUDA is available here")
        proc = run_workload(self.SCRIPT, ["--device", "cuda", "--scale", "0.001"])
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stdout, "")
        self.assertIn("error: resnet50_infer: select device cuda: CUDA is not available",
                      proc.stderr)
        self.assertIn("hint: use --device cpu", proc.stderr)

    def test_bad_arguments(self) -> None:
        self.assert_usage_error(self.SCRIPT, ["--scale", "0"], "--scale: 0 must be a finite")
        self.assert_usage_error(self.SCRIPT, ["--scale", "nan"], "--scale: nan must be a finite")
        self.assert_usage_error(self.SCRIPT, ["--sizes", "300"], "300 is not one of the study's")
        self.assert_usage_error(self.SCRIPT, ["--sizes", "256,256"], "size 256 given twice")
        self.assert_usage_error(self.SCRIPT, ["--sizes", "big"], "'big' is not an integer")
        self.assert_usage_error(self.SCRIPT, ["--device", "gpu"], "'gpu' is not one of auto")
        self.assert_usage_error(self.SCRIPT, ["--warmup", "-1"], "-1 must not be negative")
        self.assert_usage_error(self.SCRIPT, ["--threads", "0"], "0 must be at least 1")
        self.assert_usage_error(self.SCRIPT, ["--weights", "/nonexistent/resnet50.pth"],
                                "'/nonexistent/resnet50.pth' is neither one of auto, random, "
                                "cached nor an existing file")

    def test_missing_torch_is_a_clear_error_and_stdout_stays_clean(self) -> None:
        # A fake torch package shadows the real one; it also writes to fd 1 and sys.stdout, which
        # must end up on standard error, not on the JSON channel.
        with tempfile.TemporaryDirectory() as fake_root:
            package = Path(fake_root) / "torch"
            package.mkdir()
            (package / "__init__.py").write_text(
                "import os, sys\n"
                "os.write(1, b'noise on fd 1\\n')\n"
                "print('noise on sys.stdout')\n"
                "raise ImportError('simulated: no torch here')\n")
            proc = run_workload(self.SCRIPT, ["--scale", "0.001"],
                                workload_env({"PYTHONPATH": fake_root}))
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stdout, "")
        self.assertIn("noise on fd 1", proc.stderr)
        self.assertIn("noise on sys.stdout", proc.stderr)
        self.assertIn("error: resnet50_infer: import torch: simulated: no torch here", proc.stderr)
        self.assertIn("hint: install PyTorch", proc.stderr)


class ResNet50TrainTest(WorkloadTestCase):
    SCRIPT = "resnet50_train.py"

    @needs_torch
    def test_tiny_training(self) -> None:
        doc = self.run_ok(self.SCRIPT, ["--batch", "2", "--iterations", "2", "--warmup", "1",
                                        "--image-size", "64", "--lr", "0.01"])
        self.check_common(doc, "resnet50_train", "sample", 4, 2, 2)
        self.assertFalse(doc["inference_mode"])
        self.assertEqual(doc["weights"], "random")
        params = doc["params"]
        self.assertEqual(params["iterations"], 2)
        self.assertEqual(params["warmup_iterations"], 1)
        self.assertEqual(params["image_size"], 64)
        self.assertEqual(params["num_classes"], 1000)
        self.assertEqual(params["optimizer"], "SGD")
        self.assertEqual(params["lr"], 0.01)
        self.assertEqual(params["momentum"], 0.9)
        self.assertEqual(params["loss"], "cross_entropy")
        for key in ("first_loss", "final_loss"):
            self.assertIsInstance(params[key], float)
            self.assertTrue(math.isfinite(params[key]) and params[key] >= 0.0, params[key])

    def test_defaults_are_the_benchmark_suites(self) -> None:
        proc = subprocess.run([PYTHON, str(WORKLOADS / self.SCRIPT), "--help"],
                              capture_output=True, text=True, timeout=60, check=False,
                              env=workload_env())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        help_text = " ".join(proc.stdout.split())
        for default in ("images per batch (default: 32)", "learning rate (default: 0.1)",
                        "momentum, 0 to 1 (default: 0.9)", "in px (default: 224;"):
            self.assertIn(default, help_text)

    def test_bad_arguments(self) -> None:
        self.assert_usage_error(self.SCRIPT, ["--batch", "0"], "--batch: 0 must be at least 1")
        self.assert_usage_error(self.SCRIPT, ["--image-size", "16"], "16 px is too small")
        self.assert_usage_error(self.SCRIPT, ["--momentum", "1.5"], "1.5 is not between 0 and 1")
        self.assert_usage_error(self.SCRIPT, ["--lr", "-0.1"], "--lr: -0.1 must be a finite")
        self.assert_usage_error(self.SCRIPT, ["--iterations", "x"], "'x' is not an integer")


class BertInferTest(WorkloadTestCase):
    SCRIPT = "bert_infer.py"
    TINY = ["--layers", "2", "--sequence", "32", "--iterations", "2", "--warmup", "1"]

    def check_bert(self, doc: Dict[str, Any], batch: int) -> None:
        self.check_common(doc, "bert_infer", "sequence", 2 * batch, batch, batch)
        self.assertEqual(doc["weights"], "random")
        self.assertIsNone(doc["torchvision"])  # not imported by this workload
        self.assertEqual(doc["params"], {
            "layers": 2, "hidden": 768, "heads": 12, "intermediate": 3072, "vocab": 30522,
            "sequence": 32, "iterations": 2, "warmup_iterations": 1, "tokens": 2 * batch * 32})

    @needs_torch
    def test_tiny_torch_nn_encoder(self) -> None:
        doc = self.run_ok(self.SCRIPT, [*self.TINY, "--batch", "2", "--implementation", "torch"])
        self.check_bert(doc, 2)
        self.assertEqual(doc["implementation"], "torch.nn.TransformerEncoder")
        self.assertTrue(doc["inference_mode"])

    @needs_torch
    def test_auto_implementation_follows_transformers(self) -> None:
        doc = self.run_ok(self.SCRIPT, [*self.TINY, "--no-inference-mode"])
        self.check_bert(doc, 1)
        self.assertFalse(doc["inference_mode"])
        if _has_transformers():
            self.assertTrue(doc["implementation"].startswith("transformers.BertModel "))
        else:
            self.assertEqual(doc["implementation"], "torch.nn.TransformerEncoder")

    @needs_torch
    def test_transformers_requested_but_absent(self) -> None:
        if _has_transformers():
            self.skipTest("transformers is importable here (covered by the auto test)")
        proc = run_workload(self.SCRIPT, [*self.TINY, "--implementation", "transformers"])
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stdout, "")
        self.assertIn("error: bert_infer: import transformers:", proc.stderr)
        self.assertIn("hint: install Hugging Face transformers, or use --implementation torch",
                      proc.stderr)

    def test_bad_arguments(self) -> None:
        self.assert_usage_error(self.SCRIPT, ["--heads", "5"],
                                "5 heads do not divide hidden size 768")
        self.assert_usage_error(self.SCRIPT, ["--sequence", "513"],
                                "513 tokens exceed BERT's 512 positions")
        self.assert_usage_error(self.SCRIPT, ["--implementation", "onnx"], "invalid choice")
        self.assert_usage_error(self.SCRIPT, ["--layers", "0"], "--layers: 0 must be at least 1")


class SsdInferTest(WorkloadTestCase):
    SCRIPT = "ssd_infer.py"

    @needs_torch
    def test_tiny_retinanet_resnext50(self) -> None:
        # --score-thresh 0 sends candidates through NMS, so post-processing runs too.
        doc = self.run_ok(self.SCRIPT, ["--image-size", "128", "--iterations", "2",
                                        "--warmup", "1", "--score-thresh", "0"])
        self.check_common(doc, "ssd_infer", "image", 2, 1, 1)
        self.assertEqual(doc["model"], "torchvision.models.detection retinanet_resnext50_32x4d_fpn")
        self.assertIn("MLPerf", doc["model_note"])
        self.assertEqual(doc["weights"], "random")
        params = doc["params"]
        self.assertEqual(params["model"], "retinanet_resnext50_32x4d_fpn")
        self.assertEqual(params["image_size"], 128)
        self.assertEqual(params["processed_size"], 128)
        self.assertEqual(params["num_classes"], 264)
        self.assertEqual(params["score_thresh"], 0.0)
        self.assertEqual(params["iterations"], 2)
        # Every image keeps detections_per_img (300) boxes when nothing is filtered out.
        self.assertEqual(params["detections_per_image"], 300.0)

    def test_bad_arguments(self) -> None:
        self.assert_usage_error(self.SCRIPT, ["--model", "yolo"], "invalid choice: 'yolo'")
        self.assert_usage_error(self.SCRIPT, ["--image-size", "32"], "32 px is too small")
        self.assert_usage_error(self.SCRIPT, ["--num-classes", "1"], "at least 2 classes")
        self.assert_usage_error(self.SCRIPT, ["--score-thresh", "2"], "2.0 is not between 0 and 1")


class JoulebenchMeasureTest(WorkloadTestCase):
    """A workload under the real `joulebench measure --json -`: both documents on stdout."""

    @needs_torch
    def test_bert_under_measure(self) -> None:
        binary = os.environ.get("JOULEBENCH_BINARY")
        if not binary:
            self.skipTest("JOULEBENCH_BINARY is not set (CTest sets it to the built joulebench)")
        self.assertTrue(os.access(binary, os.X_OK), f"JOULEBENCH_BINARY={binary} not executable")
        workload_args = ["--layers", "1", "--sequence", "16", "--iterations", "3", "--warmup", "0",
                         "--implementation", "torch"]
        command = [PYTHON, str(WORKLOADS / "bert_infer.py"), *workload_args]
        proc = subprocess.run([binary, "measure", "--json", "-", "-q", "--", *command],
                              capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
                              env=workload_env())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # The workload's line comes first (the command has exited before measure writes).
        first, _, rest = proc.stdout.partition("\n")
        workload = self.parse_line(first + "\n")
        self.check_common(workload, "bert_infer", "sequence", 3, 0, 1)
        measure = json.loads(rest)
        self.assertEqual(measure["schema_version"], 1)
        self.assertEqual(measure["command"], command)
        self.assertEqual(measure["exit_code"], 0)
        self.assertGreater(measure["total_energy_j"], 0.0)
        self.assertTrue(measure["domains"])
        # measure's wall time spans the whole process, the workload's total_s a part of it.
        self.assertGreaterEqual(measure["wall_s"], workload["total_s"])
        # The workload marked its phases through $JOULEBENCH_MARKS (README "Markers").
        names = [p["name"] for p in measure["phases"]]
        for name in ("import", "load", "warmup", "measured"):
            self.assertIn(name, names)

    def test_phases_are_marked_in_the_marks_file(self) -> None:
        """common.Phases writes begin/end lines where $JOULEBENCH_MARKS says (no torch needed)."""
        sys.path.insert(0, str(WORKLOADS))
        try:
            common = importlib.import_module("common")
        finally:
            sys.path.remove(str(WORKLOADS))
        with tempfile.TemporaryDirectory() as folder:
            marks = Path(folder) / "marks"
            marks.write_text("")
            old = os.environ.get("JOULEBENCH_MARKS")
            os.environ["JOULEBENCH_MARKS"] = str(marks)
            try:
                phases = common.Phases()
                with phases.phase("warmup"):
                    pass
                with phases.phase("run"):
                    pass
            finally:
                if old is None:
                    del os.environ["JOULEBENCH_MARKS"]
                else:
                    os.environ["JOULEBENCH_MARKS"] = old
            self.assertEqual(marks.read_text(),
                             "begin warmup\nend warmup\nbegin measured\nend measured\n")


if __name__ == "__main__":
    unittest.main()
