#!/usr/bin/env python3
"""Writes torchvision's ImageNet weights of ResNet-34 (or -18) as a safetensors file for keel.

keel never downloads anything: run this where torch and torchvision are installed and the weights
are available (torchvision fetches them into ~/.cache/torch once, or TORCH_HOME points at a copy),
then point titanic_train at the file:

  python3 scripts/export_torchvision.py out/resnet34.safetensors        [--arch resnet18]
  titanic_train --config configs/resnet34_seed.yaml --set model.pretrained=out/resnet34.safetensors

The names stay torchvision's (conv1.weight, layer1.0.bn1.running_var, fc.weight, ...); keel maps
them onto its ResNet body and leaves fc (ImageNet's 1000 classes) aside. num_batches_tracked is
left out (keel does not keep it).
"""
import argparse
import hashlib
import os
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="the .safetensors file to write")
    parser.add_argument("--arch", choices=["resnet34", "resnet18"], default="resnet34")
    args = parser.parse_args()
    try:
        import torch
        import torchvision
        from safetensors.torch import save_file
    except ImportError as e:
        sys.exit(f"export_torchvision.py needs torch, torchvision and safetensors ({e.name} is "
                 f"missing): pip install torch torchvision safetensors")
    weights = {"resnet34": torchvision.models.ResNet34_Weights.IMAGENET1K_V1,
               "resnet18": torchvision.models.ResNet18_Weights.IMAGENET1K_V1}[args.arch]
    model = getattr(torchvision.models, args.arch)(weights=weights)
    state = {k: v.detach().contiguous().float() for k, v in model.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    save_file(state, tmp, metadata={"source": f"torchvision {torchvision.__version__} {weights}"})
    os.replace(tmp, args.out)
    with open(args.out, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"wrote {args.out}: {len(state)} tensors of {args.arch} ({weights}), sha256 {digest}")


if __name__ == "__main__":
    main()
