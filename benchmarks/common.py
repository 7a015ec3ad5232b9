"""Shared by the benchmarks: flags, model shapes, random-weight models, timing, peak memory, machine info, JSON output.

Every script runs unchanged on a GPU (`--device cuda --dtype bfloat16 --shapes real`) and on a CPU with the
scaled-down shapes of `configs/cpu/` (same families, head ratios, tying and rope; hidden / 8, layers / 8 or / 7,
vocabulary / 16) or the toy shapes of `configs/tiny/` used by `--quick`. Timings are medians over `--repeats` runs
after `--warmup` runs; the runs of the compared variants are interleaved (A, B, A, B, ...) so that a change in the
machine's load hits both sides alike, and every ratio is computed from the same run.

Decoding setups (`--decodings`): `eager_dynamic` (transformers' default: eager forward, a KV cache grown by
concatenation), `eager_static` (`cache_implementation="static"`: a preallocated cache written in place) and
`compiled_static` (the static cache with the decoding step under `torch.compile`; the prefill stays eager).
"""

import argparse
import datetime
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, PretrainedConfig, PreTrainedModel

BENCH_DIR = Path(__file__).resolve().parent
CONFIG_DIR = BENCH_DIR / "configs"
RESULTS_DIR = BENCH_DIR / "results"
SHARED = BENCH_DIR.parents[1] / "shared"
SHAPES = ("real", "cpu", "tiny")
PAIRS = {"llama": ("llama-3.2-1b", "llama-3.1-8b"), "qwen": ("qwen2.5-1.5b", "qwen2.5-7b")}
TOKENIZERS = {"llama": "llama3", "qwen": "qwen2.5", "gpt2": "gpt2"}


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Flags every benchmark takes."""
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default=None, help="float32 / bfloat16 / float16; default bf16 on CUDA, fp32 else")
    parser.add_argument("--shapes", choices=SHAPES, default=None, help="configs/<shapes>/; default real on CUDA")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before timing")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the median is reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="JSON file; default benchmarks/results/NAME-SHAPES-DEVICE.json")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's); 1 is steadier on a busy CPU"
    )
    parser.add_argument("--quick", action="store_true", help="toy shapes and sizes: a smoke run, not a measurement")


DECODINGS = ("eager_dynamic", "eager_static", "compiled_static")


def add_decoding_args(parser: argparse.ArgumentParser) -> None:
    """Flags of the benchmarks that compare decoding setups (see the module docstring)."""
    parser.add_argument("--decodings", nargs="+", choices=DECODINGS, default=list(DECODINGS))
    parser.add_argument("--compile-backend", default="inductor", help="torch.compile backend of compiled_static")
    parser.add_argument(
        "--compile-mode", default=None, help="inductor mode (default: reduce-overhead on CUDA, default on CPU)"
    )


def decoding_setups(args: argparse.Namespace) -> dict[str, dict]:
    """`generate` arguments of each decoding setup in `args.decodings`, eager_dynamic (the reference) first."""
    from softcot_hf.generation import decoding_compile_config

    mode = None
    if args.compile_backend == "inductor":
        mode = args.compile_mode or ("reduce-overhead" if args.device.startswith("cuda") else "default")
    compiled = decoding_compile_config(backend=args.compile_backend, mode=mode)
    setups = {
        "eager_dynamic": {},
        "eager_static": {"cache_implementation": "static"},
        "compiled_static": {"cache_implementation": "static", "compile_config": compiled},
    }
    return {name: setups[name] for name in DECODINGS if name in args.decodings}


def compare_decodings(
    generators: dict[str, Callable[..., torch.Tensor]], args: argparse.Namespace, tokens_per_call: int, desc: str
) -> dict:
    """
    Each `generators[name](**setup_kwargs)` (a `generate` call returning token ids) under each decoding setup,
    timed interleaved. One untimed call of each first (it also compiles) checks that every setup gives the tokens of
    the first one (eager_dynamic). Returns `{"same_tokens", "timings"}`; each timing has the generated tokens per
    second and `speedup`, the first setup's median time over this one's (of the same generator).
    """
    setups = decoding_setups(args)
    calls, same_tokens, reference_of = {}, {}, {}
    first = next(iter(setups))
    for name, generate in generators.items():
        reference = None
        for setup, kwargs in setups.items():
            call = functools.partial(torch.no_grad()(generate), **kwargs)
            tokens = call().tolist()
            reference = tokens if reference is None else reference
            same_tokens[f"{name}_{setup}"] = tokens == reference
            calls[f"{name}_{setup}"] = call
            reference_of[f"{name}_{setup}"] = f"{name}_{first}"
    timings = time_interleaved(calls, args.device, args.warmup, args.repeats, desc=desc)
    for label, timing in timings.items():
        timing["tokens_per_s"] = tokens_per_call / timing["median_s"]
        timing["speedup"] = ratio(timings[reference_of[label]]["median_s"], timing["median_s"])
    if not all(same_tokens.values()):
        print(f"WARNING: decoding setups gave different tokens: {same_tokens}", file=sys.stderr)
    return {"same_tokens": same_tokens, "timings": timings}


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None, quick: dict) -> argparse.Namespace:
    """Parse, apply the `--quick` overrides and the device-dependent defaults."""
    args = parser.parse_args(argv)
    if args.quick:
        smoke = {"shapes": "tiny", "warmup": 0, "repeats": 1}
        if hasattr(args, "compile_backend"):  # compile through aot_eager: tracing without inductor's code generation
            smoke["compile_backend"] = "aot_eager"
        for key, value in {**smoke, **quick}.items():
            setattr(args, key, value)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cuda = args.device.startswith("cuda")
    args.shapes = args.shapes or ("real" if cuda else "cpu")
    args.dtype = args.dtype or ("bfloat16" if cuda else "float32")
    return args


def torch_dtype(args: argparse.Namespace) -> torch.dtype:
    return getattr(torch, args.dtype)


def load_config(name: str, shapes: str) -> PretrainedConfig:
    """The config of `configs/<shapes>/<name>.json` (a model's published config.json values, or a scaled copy)."""
    path = CONFIG_DIR / shapes / f"{name}.json"
    if not path.is_file():
        available = sorted(p.stem for p in (CONFIG_DIR / shapes).glob("*.json"))
        raise FileNotFoundError(f"No shape file {path}; shapes {shapes!r} has {available}.")
    values = json.loads(path.read_text())
    return AutoConfig.for_model(values.pop("model_type"), **values)


def build_lm(config: PretrainedConfig, device: str, dtype: torch.dtype, seed: int = 0) -> PreTrainedModel:
    """A causal LM with random (seeded) weights, built directly on `device` in `dtype`, SDPA attention, eval mode."""
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa")
    return model.eval()


def build_softcot(
    pair: str,
    shapes: str,
    device: str,
    dtype: torch.dtype,
    num_thought_tokens: int = 4,
    placeholder_id: int | None = None,
    slot_id: int | None = None,
    seed: int = 0,
):
    """
    A `SoftCoTForCausalLM` over random-weight assistant and backbone of `PAIRS[pair]` (fp32 projection, frozen models
    in `dtype`). The assistant placeholder and backbone slot ids default to the last id of each vocabulary.
    """
    from softcot_hf import SoftCoTConfig, SoftCoTForCausalLM

    assistant_name, backbone_name = PAIRS[pair]
    assistant = build_lm(load_config(assistant_name, shapes), device, dtype, seed)
    backbone = build_lm(load_config(backbone_name, shapes), device, dtype, seed + 1)
    config = SoftCoTConfig(
        assistant_model_name_or_path=assistant_name,
        backbone_model_name_or_path=backbone_name,
        assistant_config=assistant.config.to_dict(),
        text_config=backbone.config.to_dict(),
        num_thought_tokens=num_thought_tokens,
        assistant_placeholder_token_id=assistant.config.vocab_size - 1 if placeholder_id is None else placeholder_id,
        thought_token_id=backbone.config.vocab_size - 1 if slot_id is None else slot_id,
    )
    torch.manual_seed(seed + 2)
    model = SoftCoTForCausalLM(config, assistant=assistant, backbone=backbone).to(device).eval()
    check_attention(model)
    return model


def folded_coconut(language_model: PreTrainedModel, tokenizer) -> tuple[PreTrainedModel, Callable]:
    """
    Coconut over a language model whose vocabulary is smaller than the tokenizer's: the three Coconut tokens take its
    last three ids and the other ids are folded below them (same lengths and layout; speed does not depend on ids).
    Returns the model and the folding function for `input_ids` / `labels` tensors (-100 is kept).
    """
    from softcot_hf import CoconutConfig, CoconutForCausalLM
    from softcot_hf.modeling.modeling_coconut import END_LATENT_TOKEN, LATENT_TOKEN, START_LATENT_TOKEN

    tokenizer.add_special_tokens(
        {"extra_special_tokens": [START_LATENT_TOKEN, END_LATENT_TOKEN, LATENT_TOKEN]},
        replace_extra_special_tokens=False,
    )
    vocab = language_model.config.vocab_size
    special = dict(
        zip(
            tokenizer.convert_tokens_to_ids([START_LATENT_TOKEN, END_LATENT_TOKEN, LATENT_TOKEN]),
            range(vocab - 3, vocab),
            strict=True,
        )
    )
    config = CoconutConfig(
        text_config=language_model.config,
        start_latent_token_id=vocab - 3,
        end_latent_token_id=vocab - 2,
        latent_token_id=vocab - 1,
        attn_implementation=language_model.config._attn_implementation,
    )

    def fold(ids: torch.Tensor) -> torch.Tensor:
        folded = torch.where(ids >= 0, ids % (vocab - 3), ids)
        for old, new in special.items():
            folded[ids == old] = new
        return folded

    return CoconutForCausalLM(config, language_model=language_model), fold


def add_vocab_size_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vocab-size",
        type=int,
        default=None,
        help="override the shape's vocabulary; token ids are folded into it. With the scaled CPU shape the full GPT-2 "
        "vocabulary would make the LM head most of the compute (in GPT-2 it is about a third of the forward)",
    )


def build_coconut(args: argparse.Namespace, tokenizer) -> tuple[PreTrainedModel, Callable | None]:
    """
    `CoconutForCausalLM.from_base` over a random `args.model` of `args.shapes`, or, with `--vocab-size`, a Coconut
    model over a smaller vocabulary and the function that folds the tokenizer's ids into it (else `None`).
    """
    from softcot_hf import CoconutForCausalLM

    config = load_config(args.model, args.shapes)
    if args.vocab_size is None:
        lm = build_lm(config, args.device, torch_dtype(args), args.seed)
        return CoconutForCausalLM.from_base(lm, tokenizer).to(args.device), None
    config.vocab_size = args.vocab_size
    model, fold = folded_coconut(build_lm(config, args.device, torch_dtype(args), args.seed), tokenizer)
    return model.to(args.device), fold


def check_attention(model: torch.nn.Module) -> None:
    """Fail if any sub-model would run non-causal attention (`_attn_implementation` None, see DESIGN.md traps)."""
    for name, module in model.named_modules():
        if isinstance(module, PreTrainedModel) and module.config._attn_implementation not in ("sdpa", "eager"):
            raise RuntimeError(f"{name or 'model'} has attention {module.config._attn_implementation!r}, not sdpa")


def synchronize(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(device)


def time_interleaved(
    fns: dict[str, Callable[[], object]], device: str, warmup: int, repeats: int, desc: str = ""
) -> dict[str, dict]:
    """
    Run each callable `warmup` times, then `repeats` times in turn (A, B, A, B, ...), synchronizing the device
    around each call. Returns `{name: {"median_s", "runs_s"}}`.
    """
    from tqdm.auto import tqdm

    runs = {name: [] for name in fns}
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    for _ in tqdm(range(repeats), desc=desc or "timing " + ", ".join(fns), leave=False):
        for name, fn in fns.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            runs[name].append(time.perf_counter() - start)
    return {name: {"median_s": statistics.median(values), "runs_s": values} for name, values in runs.items()}


def _cpu_allocation_peak(events) -> int:
    """Peak of the running sum of allocation (+) and free (-) sizes of a profiler event tree, in bytes."""
    from torch._C._profiler import _EventType

    allocations, stack = [], list(events)
    while stack:
        node = stack.pop()
        if node.tag == _EventType.Allocation:
            allocations.append((node.start_time_ns, node.extra_fields.alloc_size))
        stack.extend(node.children)
    running = peak = 0
    for _, size in sorted(allocations, key=lambda item: item[0]):
        running += size
        peak = max(peak, running)
    return peak


def peak_memory(fn: Callable[[], object], device: str) -> dict:
    """
    Peak memory that `fn()` adds on top of what was allocated before it, in bytes.

    CUDA: `torch.cuda.max_memory_allocated` minus `memory_allocated` before the call. CPU: the torch profiler's
    allocation events (`profile_memory=True`): the peak of the running sum of the bytes torch's CPU allocator handed
    out and took back during the call, the CPU analogue of the CUDA figure (tensors only: no Python objects, no
    allocator caching).
    """
    if str(device).startswith("cuda"):
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        synchronize(device)
        return {"peak_bytes": torch.cuda.max_memory_allocated(device) - before, "method": "cuda_max_memory_allocated"}
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    peak = _cpu_allocation_peak(prof.profiler.kineto_results.experimental_event_tree())
    return {"peak_bytes": peak, "method": "torch_profiler_cpu_allocation_events"}


def profile_table(fn: Callable[[], object], device: str, row_limit: int = 12) -> str:
    """torch.profiler table of one call, the operators that take the most self time first."""
    from torch.profiler import ProfilerActivity, profile

    cuda = str(device).startswith("cuda")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        fn()
        synchronize(device)
    sort_by = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=sort_by, row_limit=row_limit, max_name_column_width=48)


def machine_info(device: str) -> dict:
    """Where and when: CPU model and cores, load average, torch/transformers versions, GPU name, git commit."""
    cpu_model = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        cpu_model = names[0] if names else cpu_model
    info = {
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "cpu": cpu_model,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": device,
    }
    if str(device).startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=BENCH_DIR, capture_output=True, text=True, timeout=10
        )
        info["git_commit"] = commit.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        info["git_commit"] = None
    return info


def write_results(name: str, args: argparse.Namespace, results: dict, machine: dict) -> Path:
    """Write `{"benchmark", "machine", "settings", "results"}` as JSON; samples the load average again."""
    machine = {**machine, "load_average_end": list(os.getloadavg())}
    path = Path(args.output) if args.output else RESULTS_DIR / f"{name}-{args.shapes}-{args.device.split(':')[0]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    settings = {key: value for key, value in vars(args).items()}
    payload = {"benchmark": name, "machine": machine, "settings": settings, "results": results}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"wrote {path}")
    return path


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


__all__ = [
    "PAIRS",
    "SHARED",
    "SHAPES",
    "TOKENIZERS",
    "DECODINGS",
    "add_common_args",
    "add_decoding_args",
    "build_lm",
    "check_attention",
    "compare_decodings",
    "decoding_setups",
    "load_config",
    "machine_info",
    "parse_args",
    "peak_memory",
    "profile_table",
    "ratio",
    "time_interleaved",
    "torch_dtype",
    "write_results",
]
