"""The ``sigdenoise`` command: train, fetch-data, info, denoise."""
from __future__ import annotations

import argparse
import json
import sys


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def cmd_train(args) -> int:
    from .config import load_train_config
    from .train import train

    overrides = {}
    for item in args.set or []:
        key, _, value = item.partition("=")
        overrides[key] = _parse_value(value)
    if args.out:
        overrides["out_dir"] = args.out
    config = load_train_config(args.config, overrides)
    path = train(config, init=args.init, resume=not args.restart)
    print(f"[train] model written to {path}")
    return 0


def cmd_fetch_data(args) -> int:
    from .sources import prepare

    for role in args.roles:
        print(prepare(role))
    return 0


def cmd_info(args) -> int:
    from .pipeline import load_model

    model = load_model(args.model, device="cpu")
    print(json.dumps(model.info(), indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sigdenoise", description=(
        "Few-step diffusion denoiser for voice recordings and sensor logs."))
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train or fine-tune a model from a TOML config (resumes after a kill)")
    p.add_argument("--config", required=True, help="TOML file, e.g. configs/speech.toml")
    p.add_argument("--init", help="start from this model (a name in checkpoints/ or a .safetensors path)")
    p.add_argument("--out", help="output folder (overrides out_dir)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field, e.g. steps=100")
    p.add_argument("--restart", action="store_true", help="ignore a saved state in the output folder")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("fetch-data", help="download and prepare the training corpora into ~/.cache/sigdenoise")
    p.add_argument("roles", nargs="*", default=["speech", "noise"], choices=["speech", "noise", "sensor"])
    p.set_defaults(func=cmd_fetch_data)

    p = sub.add_parser("info", help="show a model's config, rate, parameters and data summary")
    p.add_argument("model", help="a name in checkpoints/ (speech, sensor) or a .safetensors path")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
