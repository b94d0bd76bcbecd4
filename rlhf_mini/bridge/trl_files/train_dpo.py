"""DPO with TRL's DPOTrainer on the course's preference data (data/preferences.jsonl).

    accelerate launch --config_file accelerate/single_gpu.yaml train_dpo.py
    accelerate launch --config_file accelerate/multi_gpu.yaml --num_processes 4 train_dpo.py
    python train_dpo.py --cpu --max-steps 2          # a smoke test on the CPU

The data is TRL's standard preference format: one JSON object per line with "prompt",
"chosen" and "rejected" (plain text). Written by ``rlhf-mini export-trl``; see README.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"  # set by rlhf-mini export-trl


def resolve_model(name: str) -> str:
    """A folder next to this script (e.g. ``model``, from ``export-trl --model-dir``) or a
    name for the Hugging Face Hub / a path, as given."""
    local = HERE / name
    return str(local) if local.is_dir() else name


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model name or folder ({DEFAULT_MODEL})")
    p.add_argument("--data", default=str(HERE / "data" / "preferences.jsonl"))
    p.add_argument("--output-dir", default=str(HERE / "runs" / "dpo"))
    p.add_argument("--beta", type=float, default=0.1, help="DPO's KL strength")
    p.add_argument("--loss-type", default="sigmoid", help="DPOConfig.loss_type (sigmoid, ipo, ...)")
    p.add_argument("--learning-rate", type=float, default=5e-7)
    p.add_argument("--per-device-batch-size", type=int, default=4)
    p.add_argument("--gradient-accumulation-steps", type=int, default=4)
    p.add_argument("--num-train-epochs", type=float, default=1.0)
    p.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps")
    p.add_argument("--max-length", type=int, default=512, help="prompt + completion tokens")
    p.add_argument("--logging-steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpu", action="store_true", help="train on the CPU (no bf16)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None):
    args = parse_args(argv)
    import torch
    from datasets import load_dataset
    from trl import DPOConfig, DPOTrainer

    bf16 = not args.cpu and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    config = DPOConfig(
        output_dir=args.output_dir,
        beta=args.beta,
        loss_type=args.loss_type,
        learning_rate=args.learning_rate,
        per_device_train_batch_size=args.per_device_batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        num_train_epochs=args.num_train_epochs,
        max_steps=args.max_steps,
        max_length=args.max_length,
        logging_steps=args.logging_steps,
        seed=args.seed,
        bf16=bf16,
        use_cpu=args.cpu,
        save_strategy="no",
        report_to="none",
    )
    dataset = load_dataset("json", data_files=args.data, split="train")
    trainer = DPOTrainer(model=resolve_model(args.model), args=config, train_dataset=dataset)
    trainer.train()
    trainer.save_model(args.output_dir)
    return trainer


if __name__ == "__main__":
    main()
