#!/usr/bin/env python3
"""BERT-base-sized encoder inference with random weights, fp32.

By default the model has BERT-base's shape: 12 layers, hidden size 768, 12 attention heads,
intermediate (feed-forward) size 3072, vocabulary 30522, 512 positions, GELU, layer-norm epsilon
1e-12, post-norm; inputs are random token ids of sequence length 512 with an all-ones attention
mask and token type 0. Weights are random (BERT's initialisation: normal, std 0.02): time and
energy do not depend on the values.

The model is Hugging Face transformers' BertModel (with its pooler) when transformers can be
imported, and otherwise the same architecture built from torch.nn: token, position and
token-type embeddings summed and layer-normed, nn.TransformerEncoder (post-norm layers with
GELU), and BERT's tanh pooler on the first token. --implementation picks one explicitly; the
JSON line says which ran. An item is one sequence (iterations x batch).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, Dict, Tuple

import common

WORKLOAD = "bert_infer"
MAX_POSITIONS = 512  # BERT-base's position embeddings
LAYER_NORM_EPS = 1e-12
INIT_STD = 0.02  # BERT's initializer_range


def build_parser() -> argparse.ArgumentParser:
    parser = common.make_parser(WORKLOAD, __doc__.split("\n\n", 1)[0])
    parser.add_argument("--layers", type=common.positive_int, default=12,
                        help="encoder layers (default: 12)")
    parser.add_argument("--hidden", type=common.positive_int, default=768,
                        help="hidden size (default: 768)")
    parser.add_argument("--heads", type=common.positive_int, default=12,
                        help="attention heads; must divide --hidden (default: 12)")
    parser.add_argument("--intermediate", type=common.positive_int, default=3072,
                        help="feed-forward size (default: 3072)")
    parser.add_argument("--vocab", type=common.positive_int, default=30522,
                        help="vocabulary size (default: 30522)")
    parser.add_argument("--sequence", type=common.positive_int, default=512,
                        help=f"tokens per sequence, at most {MAX_POSITIONS} (default: 512)")
    parser.add_argument("--batch", type=common.positive_int, default=1,
                        help="sequences per forward pass (default: 1)")
    parser.add_argument("--iterations", type=common.positive_int, default=100,
                        help="timed forward passes (default: 100)")
    parser.add_argument("--warmup", type=common.non_negative_int, default=3,
                        help="untimed forward passes first (default: 3)")
    parser.add_argument("--implementation", choices=("auto", "transformers", "torch"),
                        default="auto",
                        help="transformers' BertModel, the torch.nn build, or auto: transformers "
                             "when importable (default: auto)")
    common.add_inference_mode_flag(parser)
    return parser


def validate(args: argparse.Namespace) -> str:
    if args.hidden % args.heads != 0:
        return f"argument --heads: {args.heads} heads do not divide hidden size {args.hidden}"
    if args.sequence > MAX_POSITIONS:
        return (f"argument --sequence: {args.sequence} tokens exceed BERT's "
                f"{MAX_POSITIONS} positions")
    return ""


def build_transformers_model(args: argparse.Namespace) -> Tuple[Any, str]:
    import transformers  # pylint: disable=import-outside-toplevel
    config = transformers.BertConfig(
        vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, intermediate_size=args.intermediate, hidden_act="gelu",
        max_position_embeddings=MAX_POSITIONS, type_vocab_size=2, layer_norm_eps=LAYER_NORM_EPS,
        initializer_range=INIT_STD)
    return transformers.BertModel(config), f"transformers.BertModel {transformers.__version__}"


def build_torch_model(torch: Any, args: argparse.Namespace) -> Tuple[Any, str]:
    nn = torch.nn

    class BertEncoder(nn.Module):
        """BERT (embeddings, post-norm encoder, pooler) from torch.nn building blocks."""

        def __init__(self) -> None:
            super().__init__()
            self.word_embeddings = nn.Embedding(args.vocab, args.hidden, padding_idx=0)
            self.position_embeddings = nn.Embedding(MAX_POSITIONS, args.hidden)
            self.token_type_embeddings = nn.Embedding(2, args.hidden)
            self.embedding_norm = nn.LayerNorm(args.hidden, eps=LAYER_NORM_EPS)
            self.embedding_dropout = nn.Dropout(0.1)
            layer = nn.TransformerEncoderLayer(
                d_model=args.hidden, nhead=args.heads, dim_feedforward=args.intermediate,
                dropout=0.1, activation="gelu", layer_norm_eps=LAYER_NORM_EPS,
                batch_first=True, norm_first=False)
            # No nested tensors: with an all-ones mask there is no padding to skip, and the
            # conversion would only add work that BertModel does not do.
            self.encoder = nn.TransformerEncoder(layer, num_layers=args.layers,
                                                 enable_nested_tensor=False)
            self.pooler = nn.Sequential(nn.Linear(args.hidden, args.hidden), nn.Tanh())
            self.register_buffer("position_ids", torch.arange(MAX_POSITIONS).unsqueeze(0),
                                 persistent=False)
            self.apply(self._init_weights)

        @staticmethod
        def _init_weights(module: Any) -> None:
            # BERT's initialisation (BertPreTrainedModel._init_weights).
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    nn.init.zeros_(module.bias)
                if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                    with torch.no_grad():
                        module.weight[module.padding_idx].zero_()
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            positions = self.position_ids[:, : input_ids.shape[1]]
            embeddings = (self.word_embeddings(input_ids) + self.position_embeddings(positions)
                          + self.token_type_embeddings(token_type_ids))
            hidden = self.embedding_dropout(self.embedding_norm(embeddings))
            hidden = self.encoder(hidden, src_key_padding_mask=attention_mask == 0)
            return hidden, self.pooler(hidden[:, 0])

    return BertEncoder(), "torch.nn.TransformerEncoder"


def run(args: argparse.Namespace, phases: common.Phases) -> Dict[str, Any]:
    torch = common.import_phase(phases, need_torchvision=False)
    with phases.phase("import"):
        transformers_error = ""
        use_transformers = False
        if args.implementation in ("auto", "transformers"):
            try:
                importlib.import_module("transformers")
                use_transformers = True
            except ImportError as error:
                transformers_error = str(error)
                if args.implementation == "transformers":
                    raise common.WorkloadError(
                        f"import transformers: {error}",
                        hint="install Hugging Face transformers, or use --implementation torch "
                             "(or auto)") from None

    device = common.select_device(torch, args.device)
    phases.bind(torch, device)
    common.configure(torch, args)
    if args.implementation == "auto" and not use_transformers:
        common.log(WORKLOAD, f"transformers not importable ({transformers_error}); "
                             f"building BERT from torch.nn")

    with phases.phase("load"):
        if use_transformers:
            model, implementation = build_transformers_model(args)
        else:
            model, implementation = build_torch_model(torch, args)
        model.to(device)
        model.eval()
        shape = (args.batch, args.sequence)
        # Token 0 is [PAD] in BERT's vocabulary: draw real tokens only (when there are any).
        input_ids = torch.randint(1 if args.vocab > 1 else 0, args.vocab, shape, device=device)
        attention_mask = torch.ones(shape, dtype=torch.long, device=device)
        token_type_ids = torch.zeros(shape, dtype=torch.long, device=device)
    common.log(WORKLOAD, f"device {device}, {implementation}, {args.layers} layers, hidden "
                         f"{args.hidden}, batch {args.batch} x {args.sequence} tokens, "
                         f"{args.warmup} warm-up + {args.iterations} timed passes")

    def forward() -> Any:
        if use_transformers:
            out = model(input_ids=input_ids, attention_mask=attention_mask,
                        token_type_ids=token_type_ids)
            return out.last_hidden_state
        return model(input_ids, attention_mask, token_type_ids)[0]

    with common.grad_context(torch, args.inference_mode):
        with phases.phase("warmup"):
            for _ in range(args.warmup):
                forward()
        with phases.phase("run"):
            for _ in range(args.iterations):
                hidden = forward()
    expected = [args.batch, args.sequence, args.hidden]
    if list(hidden.shape) != expected:
        raise common.WorkloadError(
            f"run {implementation}: output shape {list(hidden.shape)}, expected {expected}")
    common.log(WORKLOAD, f"{args.iterations} passes in {phases.seconds['run']:.3f} s")

    result = common.base_result(WORKLOAD, torch, device, args)
    result.update({
        "item": "sequence",
        "items": args.iterations * args.batch,
        "warmup_items": args.warmup * args.batch,
        "batch_size": args.batch,
        "model": "bert-base-shaped encoder",
        "implementation": implementation,
        "weights": "random",
        "inference_mode": args.inference_mode,
        "params": {
            "layers": args.layers,
            "hidden": args.hidden,
            "heads": args.heads,
            "intermediate": args.intermediate,
            "vocab": args.vocab,
            "sequence": args.sequence,
            "iterations": args.iterations,
            "warmup_iterations": args.warmup,
            "tokens": args.iterations * args.batch * args.sequence,
        },
    })
    return common.finish_result(result, phases)


if __name__ == "__main__":
    sys.exit(common.main(WORKLOAD, build_parser(), run, validate))
