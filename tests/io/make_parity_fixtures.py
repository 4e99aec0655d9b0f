#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures that tests/io/torch_parity_test.cpp compares keel against.

Each file is a safetensors file holding, for one model: its initial weights ("weights.<name>",
PyTorch state_dict names), an input batch and labels, and PyTorch's results for one forward and
backward pass in train mode (logits, loss, every parameter gradient, the updated batch-norm
running statistics) and one forward pass in eval mode. The results are computed in float64 from
the float32 weights, so they are the exact answer that a float32 engine approximates; the
metadata records how far PyTorch's own float32 results are from them (the worst of three ways of
computing them), for comparison.

Dropout layers have p = 0: their masks come from each engine's own random numbers (keel's dropout
has its own tests). Only PyTorch is needed (the safetensors writer is the few lines below).

  make_parity_fixtures.py [OUT_DIR]          the small fixtures committed in tests/fixtures/parity
  make_parity_fixtures.py --full OUT_DIR     full-width small CNN and ResNet-34, and a
                                             torchvision-named ResNet-34 state_dict
  make_parity_fixtures.py --verify FILE FIXTURE
      checks a file keel wrote for FIXTURE's model with the safetensors package: PyTorch loads it
      strictly into the model and gets the fixture's weights (exit 77 without the package)
"""
import argparse
import copy
import json
import os
import struct
import sys
import warnings

import torch
from torch import nn


# --- models, with the names of torchvision and fastai ---------------------------------------------


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    """torchvision.models.ResNet with BasicBlocks, its attribute names, and a base width."""

    def __init__(self, layers, width=64, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        channels = width
        for stage, depth in enumerate(layers):
            planes = width << stage
            blocks = []
            for b in range(depth):
                blocks.append(BasicBlock(channels, planes, 2 if stage > 0 and b == 0 else 1))
                channels = planes
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


class AdaptiveConcatPool2d(nn.Module):
    """fastai's: max pool then average pool, concatenated along the channels."""

    def __init__(self):
        super().__init__()
        self.mp, self.ap = nn.AdaptiveMaxPool2d(1), nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return torch.cat([self.mp(x), self.ap(x)], 1)


def resnet_classifier(layers, width, hidden, num_classes=2):
    """fastai v1's cnn_learner model: the body (torchvision's children minus pool and fc) and
    create_head, with the dropouts at p = 0."""
    body = nn.Sequential(*list(ResNet(layers, width).children())[:-2])
    features = 2 * 8 * width
    head = nn.Sequential(AdaptiveConcatPool2d(), nn.Flatten(), nn.BatchNorm1d(features),
                         nn.Dropout(0.0), nn.Linear(features, hidden), nn.ReLU(inplace=True),
                         nn.BatchNorm1d(hidden), nn.Dropout(0.0), nn.Linear(hidden, num_classes))
    return nn.Sequential(body, head)


def small_cnn(widths, hidden, num_classes=2):
    """configs/small_cnn.yaml's layer list (../shared/peers/pytorch_peer.py --mode small)."""
    c1, c2, c3 = widths
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(),
        nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c2, c3, 3, padding=1), nn.BatchNorm2d(c3), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.0), nn.Linear(c3, hidden), nn.ReLU(),
        nn.Dropout(0.0), nn.Linear(hidden, num_classes))


def randomise_batch_norms(model, gen):
    """Scales, shifts and running statistics away from 1 and 0, so each of them shows."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(c, generator=gen))
                m.bias.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(c, generator=gen))


# --- the passes ---------------------------------------------------------------------------------


def run_passes(model, x, labels):
    """Train-mode forward and backward, then eval-mode forward, on a copy of `model`."""
    m = copy.deepcopy(model)
    m.train()
    logits = m(x)
    loss = nn.functional.cross_entropy(logits, labels)
    m.zero_grad()
    loss.backward()
    out = {"train.logits": logits.detach(), "train.loss": loss.detach().reshape(1)}
    for name, p in m.named_parameters():
        out["grad." + name] = p.grad.detach()
    for name, b in m.named_buffers():
        if not name.endswith("num_batches_tracked"):
            out["after." + name] = b.detach()
    e = copy.deepcopy(model)
    e.eval()
    with torch.no_grad():
        eval_logits = e(x)
        out["eval.logits"] = eval_logits
        out["eval.loss"] = nn.functional.cross_entropy(eval_logits, labels).reshape(1)
    return out


def relative_error(got, ref, floor):
    """‖got − ref‖ / max(‖ref‖, floor), as torch_parity_test.cpp measures keel."""
    return (got.double() - ref).norm().item() / max(ref.norm().item(), floor, 1e-300)


def tensor_class(name):
    if name.startswith("grad."):
        return "grad"
    if name.startswith("after."):
        return "running_stats"
    return name  # train.logits, train.loss, eval.logits, eval.loss


def float32_variants(model, x, labels):
    """PyTorch's float32 results three ways: its default kernels, channels-last memory (other
    convolution kernels, other summation orders) and without oneDNN. A value within rounding
    distance of a ReLU's kink or a max-pool tie takes the other branch in some of them, which
    moves a gradient by a discrete step; the spread shows how far float32 can honestly land."""
    yield run_passes(model, x, labels)
    last = torch.channels_last
    yield run_passes(copy.deepcopy(model).to(memory_format=last), x.to(memory_format=last), labels)
    with warnings.catch_warnings():  # oneDNN's note about Intel GPUs
        warnings.simplefilter("ignore")
        with torch.backends.mkldnn.flags(enabled=False):
            yield run_passes(model, x, labels)


def make_fixture(model, x, labels, metadata):
    weights = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    exact = run_passes(copy.deepcopy(model).double(), x.double(), labels)
    # A gradient that is exactly zero (a convolution's bias before batch norm) is judged against
    # 1e-3 of the largest gradient's norm instead of its own.
    grad_floor = 1e-3 * max(v.norm().item() for k, v in exact.items() if k.startswith("grad."))
    torch_error = {}
    for single in float32_variants(model, x, labels):
        for name, ref in exact.items():
            c = tensor_class(name)
            floor = grad_floor if c == "grad" else 0.0
            torch_error[c] = max(torch_error.get(c, 0.0), relative_error(single[name], ref, floor))
    tensors = {"weights." + k: v.float() for k, v in weights.items()}
    tensors.update({k: v.float() for k, v in exact.items()})
    tensors["input"] = x
    tensors["labels"] = labels
    metadata = dict(metadata, torch_version=torch.__version__,
                    torch_fp32_error=json.dumps(torch_error, sort_keys=True))
    return tensors, metadata


# --- safetensors ---------------------------------------------------------------------------------

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.float16: "F16",
          torch.bfloat16: "BF16"}


def write_safetensors(path, tensors, metadata):
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    os.replace(tmp, path)


# --- the fixtures ---------------------------------------------------------------------------------


def small_cnn_fixture(widths, hidden, batch, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = small_cnn(widths, hidden)
    randomise_batch_norms(model, gen)
    x = torch.randn(batch, 1, 6, 6, generator=gen)
    labels = torch.randint(0, 2, (batch,), generator=gen)
    meta = {"arch": "small_cnn", "widths": ",".join(map(str, widths)), "hidden": str(hidden)}
    return make_fixture(model, x, labels, meta)


def resnet_fixture(arch, width, hidden, image, batch, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    layers = {"resnet18": [2, 2, 2, 2], "resnet34": [3, 4, 6, 3]}[arch]
    model = resnet_classifier(layers, width, hidden)
    randomise_batch_norms(model, gen)
    x = torch.randn(batch, 3, image, image, generator=gen)
    labels = torch.randint(0, 2, (batch,), generator=gen)
    meta = {"arch": arch, "width": str(width), "hidden": str(hidden)}
    return make_fixture(model, x, labels, meta)


def torchvision_state_dict(seed):
    """A torchvision-named ResNet-34 state_dict (fc included), as scripts/export_torchvision.py
    writes one, to check that keel maps its names onto its body."""
    torch.manual_seed(seed)
    model = ResNet([3, 4, 6, 3])
    randomise_batch_norms(model, torch.Generator().manual_seed(seed))
    return dict(model.state_dict()), {"arch": "resnet34", "names": "torchvision"}


def model_for(metadata):
    if metadata["arch"] == "small_cnn":
        return small_cnn(tuple(int(w) for w in metadata["widths"].split(",")), int(metadata["hidden"]))
    layers = {"resnet18": [2, 2, 2, 2], "resnet34": [3, 4, 6, 3]}[metadata["arch"]]
    return resnet_classifier(layers, int(metadata["width"]), int(metadata["hidden"]))


def verify(keel_file, fixture):
    try:
        from safetensors import safe_open
        from safetensors.torch import load_file
    except ImportError:
        print("the safetensors package is not installed: pip install safetensors")
        return 77
    with safe_open(fixture, "pt") as f:
        metadata = f.metadata()
        expected = {k[len("weights."):]: f.get_tensor(k) for k in f.keys() if k.startswith("weights.")}
    model = model_for(metadata)
    model.load_state_dict(load_file(keel_file), strict=True)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    if state.keys() != expected.keys():
        print("names differ:", sorted(state.keys() ^ expected.keys())[:10])
        return 1
    wrong = [k for k in state if not torch.equal(state[k], expected[k])]
    print(f"{keel_file}: {len(state)} tensors loaded strictly by PyTorch, {len(wrong)} differ {wrong[:5]}")
    return 1 if wrong else 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--verify":
        return verify(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", default=os.path.join(os.path.dirname(__file__), "..",
                                                               "fixtures", "parity"))
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.full:
        jobs = {"small_cnn_full": lambda: small_cnn_fixture((32, 64, 128), 64, 16, 1),
                "resnet34_full": lambda: resnet_fixture("resnet34", 64, 512, 64, 4, 2),
                "resnet34_torchvision": lambda: torchvision_state_dict(3)}
    else:
        jobs = {"small_cnn": lambda: small_cnn_fixture((8, 16, 32), 16, 8, 1),
                "resnet34_w2": lambda: resnet_fixture("resnet34", 2, 8, 32, 4, 2)}
    for name, job in jobs.items():
        tensors, metadata = job()
        path = os.path.join(args.out, name + ".safetensors")
        write_safetensors(path, tensors, metadata)
        print(f"{path}: {os.path.getsize(path)} bytes, torch float32 error "
              f"{metadata.get('torch_fp32_error', '-')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
