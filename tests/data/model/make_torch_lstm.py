"""A tiny PyTorch BiLSTM + linear model saved with safetensors, for Hark's interoperability tests.

Run from the repository root (needs torch, numpy and the `safetensors` Python package):
    /work/peers-venv/bin/python tests/data/model/make_torch_lstm.py
Writes, beside this script:
    torch_lstm.safetensors  state dict of nn.LSTM(5, 4, num_layers=2, bidirectional=True) as `lstm.*`
                            and nn.Linear(8, 6) as `proj.*`, float32
    torch_lstm.json         input x (T=7, B=2, D=5), the output log_softmax(proj(lstm(x))) (T, B, V=6),
                            the tensor names/shapes in state-dict order, and all weight values
    torch_lstm_f16.safetensors  the same weights stored as float16
With `--check-hark FILE` it instead loads a safetensors file written by Hark into the same modules with
load_state_dict(strict=True) and prints the output difference against torch_lstm.json.
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
D, H, L, V, T, B = 5, 4, 2, 6, 7, 2


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(D, H, num_layers=L, bidirectional=True)  # time-major (T, B, D)
        self.proj = torch.nn.Linear(2 * H, V)

    def forward(self, x):
        y, _ = self.lstm(x)
        return torch.log_softmax(self.proj(y), dim=-1)


def main():
    torch.manual_seed(1234)
    net = Net().eval()
    x = torch.randn(T, B, D)
    with torch.no_grad():
        out = net(x)
    sd = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    if len(sys.argv) == 3 and sys.argv[1] == "--check-hark":
        hark = load_file(sys.argv[2])
        net2 = Net().eval()
        net2.load_state_dict(hark, strict=True)
        with torch.no_grad():
            out2 = net2(x)
        print("load_state_dict(strict=True): ok;", len(hark), "tensors")
        print("max |output difference| vs torch_lstm.json:", (out2 - out).abs().max().item())
        return
    save_file(sd, os.path.join(HERE, "torch_lstm.safetensors"), metadata={"made_by": "make_torch_lstm.py"})
    save_file({k: v.half() for k, v in sd.items()}, os.path.join(HERE, "torch_lstm_f16.safetensors"))
    doc = {
        "torch_version": torch.__version__,
        "dims": {"D": D, "H": H, "layers": L, "V": V, "T": T, "B": B},
        "gate_order": "i, f, g, o (PyTorch nn.LSTM)",
        "tensors": [{"name": k, "shape": list(v.shape), "data": v.flatten().tolist()} for k, v in sd.items()],
        "input": x.flatten().tolist(),
        "input_shape": [T, B, D],
        "log_probs": out.flatten().tolist(),
        "log_probs_shape": [T, B, V],
    }
    with open(os.path.join(HERE, "torch_lstm.json"), "w") as f:
        json.dump(doc, f)
    print("wrote", len(sd), "tensors:", ", ".join(f"{k}{list(v.shape)}" for k, v in sd.items()))


if __name__ == "__main__":
    main()
