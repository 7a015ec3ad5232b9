"""SoftCoT checkpoint size and load time.

Size: the folder a SoftCoT `save_pretrained` + processor `save_pretrained` writes (what `push_to_hub` uploads) for the
real LLaMA-3.2-1B -> LLaMA-3.1-8B and Qwen2.5-1.5B -> Qwen2.5-7B pairs, against the backbone's bf16 weights. The
frozen models are built on the meta device (no memory), so only the projection (fp32) and the config and tokenizer
files are written; the real tokenizers are used when found.

Load time: `AutoModelForCausalLM.from_pretrained(softcot_folder)` (loads both frozen models by reference, then the
projection) against loading the two frozen models alone, on `--load-shapes` (random weights saved to a temporary
folder). The difference is what SoftCoT adds on top of the frozen models.

    python benchmarks/checkpoint_size.py --device cuda --load-shapes real
    python benchmarks/checkpoint_size.py            # CPU: sizes from the real shapes, load time on scaled shapes
"""

import argparse
import tempfile
from pathlib import Path

import torch
from common import (
    PAIRS,
    SHARED,
    TOKENIZERS,
    add_common_args,
    build_lm,
    load_config,
    machine_info,
    parse_args,
    ratio,
    time_interleaved,
    torch_dtype,
    write_results,
)
from transformers import AutoModelForCausalLM, AutoTokenizer

from softcot_hf import SoftCoTConfig, SoftCoTForCausalLM, SoftCoTProcessor

QUICK = {"pairs": ["qwen"], "load_shapes": "tiny"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--pairs", nargs="+", choices=sorted(PAIRS), default=["llama", "qwen"])
    parser.add_argument("--num-thoughts", type=int, default=4)
    parser.add_argument("--load-shapes", default=None, help="shapes for the load-time part; default: --shapes")
    parser.add_argument("--tokenizers-dir", default=str(SHARED / "tokenizers"))
    return parser


def softcot_config(assistant, backbone, assistant_path: str, backbone_path: str, num_thoughts: int) -> SoftCoTConfig:
    return SoftCoTConfig(
        assistant_model_name_or_path=assistant_path,
        backbone_model_name_or_path=backbone_path,
        assistant_config=assistant.config.to_dict(),
        text_config=backbone.config.to_dict(),
        num_thought_tokens=num_thoughts,
        assistant_placeholder_token_id=assistant.config.vocab_size - 1,
        thought_token_id=backbone.config.vocab_size - 1,
    )


def folder_bytes(folder: Path) -> dict[str, int]:
    return {str(path.relative_to(folder)): path.stat().st_size for path in sorted(folder.rglob("*")) if path.is_file()}


def checkpoint_size(pair: str, num_thoughts: int, tokenizers_dir: Path, workdir: Path) -> dict:
    """Bytes of the saved SoftCoT folder of the real-shape `pair`, against the backbone's bf16 weights."""
    assistant_name, backbone_name = PAIRS[pair]
    assistant = build_lm(load_config(assistant_name, "real"), "meta", torch.bfloat16)
    backbone = build_lm(load_config(backbone_name, "real"), "meta", torch.bfloat16)
    config = softcot_config(assistant, backbone, assistant_name, backbone_name, num_thoughts)
    model = SoftCoTForCausalLM(config, assistant=assistant, backbone=backbone)
    folder = workdir / f"softcot-{pair}"
    model.save_pretrained(folder)
    tokenizer_dir = tokenizers_dir / TOKENIZERS[pair]
    if tokenizer_dir.is_dir():
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        SoftCoTProcessor(tokenizer, tokenizer, num_thought_tokens=num_thoughts).save_pretrained(folder)
    files = folder_bytes(folder)
    backbone_params = sum(p.numel() for p in backbone.parameters())
    projection_params = sum(p.numel() for p in model.projection.parameters())
    total = sum(files.values())
    return {
        "assistant": assistant_name,
        "backbone": backbone_name,
        "projection_params": projection_params,
        "projection_fp32_bytes": projection_params * 4,
        "files": files,
        "total_bytes": total,
        "with_tokenizer_files": tokenizer_dir.is_dir(),
        "backbone_params": backbone_params,
        "backbone_bf16_bytes": backbone_params * 2,
        "share_of_backbone_bf16": ratio(total, backbone_params * 2),
    }


def load_time(pair: str, args, workdir: Path) -> dict:
    """Median time of loading the SoftCoT folder and of loading the two frozen models alone, interleaved."""
    shapes = args.load_shapes
    paths = {}
    for side, name, seed in zip(("assistant", "backbone"), PAIRS[pair], (0, 1), strict=True):
        model = build_lm(load_config(name, shapes), "cpu", torch_dtype(args), args.seed + seed)
        paths[side] = workdir / f"{pair}-{shapes}-{side}"
        model.save_pretrained(paths[side])
        paths[f"{side}_model"] = model
    config = softcot_config(
        paths.pop("assistant_model"),
        backbone := paths.pop("backbone_model"),
        str(paths["assistant"]),
        str(paths["backbone"]),
        args.num_thoughts,
    )
    softcot = SoftCoTForCausalLM(
        config, assistant=AutoModelForCausalLM.from_pretrained(paths["assistant"]), backbone=backbone
    )
    softcot_dir = workdir / f"{pair}-{shapes}-softcot"
    softcot.save_pretrained(softcot_dir)
    del softcot, backbone
    load_kwargs = {"dtype": torch_dtype(args), "device_map": args.device}

    def load_softcot():
        AutoModelForCausalLM.from_pretrained(softcot_dir, **load_kwargs)

    def load_frozen():
        AutoModelForCausalLM.from_pretrained(paths["assistant"], **load_kwargs)
        AutoModelForCausalLM.from_pretrained(paths["backbone"], **load_kwargs)

    timings = time_interleaved(
        {"softcot_from_pretrained": load_softcot, "frozen_models_alone": load_frozen},
        args.device,
        args.warmup,
        args.repeats,
        desc=f"load {pair}",
    )
    softcot_s, frozen_s = timings["softcot_from_pretrained"]["median_s"], timings["frozen_models_alone"]["median_s"]
    return {
        "shapes": shapes,
        "timings": timings,
        "extra_s": softcot_s - frozen_s,
        "ratio_softcot_over_frozen": ratio(softcot_s, frozen_s),
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(build_parser(), argv, QUICK)
    args.load_shapes = args.load_shapes or args.shapes
    machine = machine_info(args.device)
    import softcot_hf  # noqa: F401  (registers SoftCoT with the Auto classes)

    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for pair in args.pairs:
            size = checkpoint_size(pair, args.num_thoughts, Path(args.tokenizers_dir), Path(workdir))
            load = load_time(pair, args, Path(workdir))
            results[pair] = {"size": size, "load": load}
            print(
                f"{pair}: pushed {size['total_bytes'] / 2**20:.1f} MiB vs backbone bf16 "
                f"{size['backbone_bf16_bytes'] / 2**30:.2f} GiB ({size['share_of_backbone_bf16']:.2%}); load "
                f"+{load['extra_s'] * 1e3:.0f} ms over the frozen models (x{load['ratio_softcot_over_frozen']:.3f})"
            )
    write_results("checkpoint_size", args, results, machine)
    return results


if __name__ == "__main__":
    main()
