#!/usr/bin/env python3
"""Produces crates/neuron/tests/data/pytorch_reference.json: PyTorch's outputs, losses, gradients
and the weights after 3 optimizer steps, for small networks with mixed activations and each loss.

    pip install torch && python3 scripts/pytorch_reference.py

The Rust tests (crates/neuron/tests/pytorch.rs) read the JSON; they never need Python.
"""
import json
import os

import torch
import torch.nn as nn

torch.manual_seed(1234)
torch.set_default_dtype(torch.float32)

BATCH, INPUTS = 7, 5


def layer_spec(m):
    if isinstance(m, nn.Linear):
        return {"type": "dense", "inputs": m.in_features, "outputs": m.out_features}
    if isinstance(m, nn.Softmax):
        return {"type": "softmax"}
    kinds = {nn.Tanh: "tanh", nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.GELU: "gelu", nn.Identity: "identity"}
    if isinstance(m, nn.LeakyReLU):
        return {"type": "activation", "activation": {"kind": "leaky_relu", "alpha": m.negative_slope}}
    return {"type": "activation", "activation": {"kind": kinds[type(m)]}}


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


CASES = [
    ("mse", lambda: nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 6), nn.GELU(), nn.Linear(6, 3), nn.Sigmoid()),
     {"kind": "mse"}, nn.MSELoss()),
    ("cross_entropy", lambda: nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 4)),
     {"kind": "cross_entropy", "label_smoothing": 0.0}, nn.CrossEntropyLoss()),
    ("cross_entropy_smoothed", lambda: nn.Sequential(nn.Linear(5, 8), nn.GELU(), nn.Linear(8, 6), nn.Sigmoid(), nn.Linear(6, 4)),
     {"kind": "cross_entropy", "label_smoothing": 0.1}, nn.CrossEntropyLoss(label_smoothing=0.1)),
    ("bce", lambda: nn.Sequential(nn.Linear(5, 8), nn.LeakyReLU(0.1), nn.Linear(8, 6), nn.Sigmoid(), nn.Linear(6, 3)),
     {"kind": "binary_cross_entropy"}, nn.BCEWithLogitsLoss()),
    ("softmax_layer_mse", lambda: nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 4), nn.Softmax(dim=1)),
     {"kind": "mse"}, nn.MSELoss()),
]

OPTIMIZERS = [
    ("sgd", {"kind": {"kind": "sgd"}, "lr": 0.1, "weight_decay": 0.0},
     lambda p: torch.optim.SGD(p, lr=0.1)),
    ("momentum", {"kind": {"kind": "momentum", "momentum": 0.9}, "lr": 0.1, "weight_decay": 0.01},
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("nesterov", {"kind": {"kind": "nesterov", "momentum": 0.9}, "lr": 0.05, "weight_decay": 0.0},
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    ("adam", {"kind": {"kind": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}, "lr": 0.01, "weight_decay": 0.01},
     lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.01)),
    ("adamw", {"kind": {"kind": "adam_w", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}, "lr": 0.01, "weight_decay": 0.05},
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05)),
    ("rmsprop", {"kind": {"kind": "rms_prop", "rho": 0.99, "eps": 1e-8}, "lr": 0.01, "weight_decay": 0.0},
     lambda p: torch.optim.RMSprop(p, lr=0.01)),
]

cases = []
for name, make, loss_spec, loss_fn in CASES:
    net = make()
    x = torch.randn(BATCH, INPUTS)
    out_dim = [m for m in net if isinstance(m, nn.Linear)][-1].out_features
    if loss_spec["kind"] == "cross_entropy":
        y = torch.randint(0, out_dim, (BATCH,))
        y_json = [[float(v)] for v in y.tolist()]
    elif loss_spec["kind"] == "binary_cross_entropy":
        y = (torch.rand(BATCH, out_dim) < 0.5).float()
        y_json = y.tolist()
    else:
        y = torch.rand(BATCH, out_dim)
        y_json = y.tolist()
    init = {k: v.clone() for k, v in net.state_dict().items()}
    out = net(x)
    loss = loss_fn(out, y)
    net.zero_grad()
    loss.backward()
    case = {
        "name": name,
        "layers": [layer_spec(m) for m in net],
        "loss": loss_spec,
        "x": x.tolist(),
        "y": y_json,
        "param_names": list(init.keys()),
        "params": [flat(v) for v in init.values()],
        "output": out.tolist(),
        "loss_value": loss.item(),
        "grads": [flat(p.grad) for p in net.parameters()],
        "optimizers": [],
    }
    for oname, ocfg, make_opt in OPTIMIZERS:
        net.load_state_dict(init)
        opt = make_opt(net.parameters())
        for _ in range(3):
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            opt.step()
        case["optimizers"].append({"name": oname, "config": ocfg, "after_3_steps": [flat(p) for p in net.parameters()]})
    cases.append(case)

path = os.path.join(os.path.dirname(__file__), "..", "crates", "neuron", "tests", "data", "pytorch_reference.json")
with open(path, "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f)
print(f"wrote {len(cases)} cases to {os.path.normpath(path)} with torch {torch.__version__}")
