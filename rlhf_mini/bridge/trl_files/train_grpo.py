"""GRPO with TRL's GRPOTrainer on the course's prompts, rewarded by its gold utility.

    accelerate launch --config_file accelerate/single_gpu.yaml train_grpo.py
    accelerate launch --config_file accelerate/zero2.yaml --num_processes 8 train_grpo.py
    python train_grpo.py --cpu --max-steps 2         # a smoke test on the CPU

Prompts: data/prompts.jsonl (TRL's prompt-only format, one "prompt" per line). Reward:
``gold_utility`` from reward.py next to this file. Written by ``rlhf-mini export-trl``.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"  # set by rlhf-mini export-trl


def resolve_model(name: str) -> str:
    """A folder next to this script (e.g. ``model``, from ``export-trl --model-dir``) or a
    name for the Hugging Face Hub / a path, as given."""
    local = HERE / name
    return str(local) if local.is_dir() else name


def load_reward():
    """``gold_utility`` from reward.py beside this script, wherever it is launched from."""
    spec = importlib.util.spec_from_file_location("rlhf_mini_reward", HERE / "reward.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.gold_utility


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model name or folder ({DEFAULT_MODEL})")
    p.add_argument("--data", default=str(HERE / "data" / "prompts.jsonl"))
    p.add_argument("--output-dir", default=str(HERE / "runs" / "grpo"))
    p.add_argument("--num-generations", type=int, default=8, help="G, samples per prompt")
    p.add_argument("--max-completion-length", type=int, default=128)
    p.add_argument("--beta", type=float, default=0.0, help="k3 KL weight (0: no reference)")
    p.add_argument("--loss-type", default="dapo", help="grpo, bnpo, dr_grpo or dapo")
    p.add_argument("--scale-rewards", default="group", help="group, batch or none")
    p.add_argument("--learning-rate", type=float, default=1e-6)
    p.add_argument(
        "--per-device-batch-size", type=int, default=8, help="completions per device and step"
    )
    p.add_argument("--gradient-accumulation-steps", type=int, default=1)
    p.add_argument("--num-train-epochs", type=float, default=1.0)
    p.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps")
    p.add_argument("--logging-steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpu", action="store_true", help="train on the CPU (no bf16)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None):
    args = parse_args(argv)
    import torch
    from datasets import load_dataset
    from trl import GRPOConfig, GRPOTrainer

    bf16 = not args.cpu and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    config = GRPOConfig(
        output_dir=args.output_dir,
        num_generations=args.num_generations,
        max_completion_length=args.max_completion_length,
        beta=args.beta,
        loss_type=args.loss_type,
        scale_rewards=args.scale_rewards,
        learning_rate=args.learning_rate,
        per_device_train_batch_size=args.per_device_batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        num_train_epochs=args.num_train_epochs,
        max_steps=args.max_steps,
        logging_steps=args.logging_steps,
        seed=args.seed,
        bf16=bf16,
        use_cpu=args.cpu,
        save_strategy="no",
        report_to="none",
    )
    dataset = load_dataset("json", data_files=args.data, split="train")
    trainer = GRPOTrainer(
        model=resolve_model(args.model),
        reward_funcs=load_reward(),
        args=config,
        train_dataset=dataset,
    )
    trainer.train()
    trainer.save_model(args.output_dir)
    return trainer


if __name__ == "__main__":
    main()
