#!/usr/bin/env python3
"""Writes the PyTorch golden of LoRA fine-tuning (the book's appendix E).

The model is the classifier of make_finetune_goldens.py (the book's GPT with
a class head, float64) with GPT-2's fused qkv projection (one Linear of
3 * emb_dim outputs, as Hugging Face's c_attn and models/lib/attention.gpt
have it; the book's model has three). Then, with the book's LoRALayer,
LinearWithLoRA and replace_linear_with_lora: every parameter frozen, every
Linear of the transformer blocks wrapped with an adapter, and the new class
head trained (the book also wraps the head; a head that trains in full
needs no adapter). Every weight, adapters included, is random so that each
path of the forward and backward shows.

  lora.{yaml,safetensors}  weights under gptc's names (models/gpt2-lora.gpt),
      a batch of class labels, the expected logits and loss, the gradients
      of the adapters and the head, the losses of 10 AdamW steps (lr 1e-3,
      weight decay 0.1, no clipping, as train_classifier_simple), and
      `expected.lora_A_bound`: the bound of kaiming_uniform_(A, a=sqrt(5))
      for an [in, rank] matrix.

Regenerate (needs torch and safetensors from PyPI):
  python3 tests/reference/make_lora_goldens.py
"""
import math
import os

import torch
import torch.nn as nn
from safetensors.torch import save_file

import golden_inputs
from make_goldens import GPTModel

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS, LR, WEIGHT_DECAY = 10, 1e-3, 0.1
CONFIG = dict(vocab_size=97, context_length=16, emb_dim=24, n_heads=3,
              n_layers=2, drop_rate=0.0, qkv_bias=True, tie_embeddings=False,
              num_classes=3, pad_token_id=96, lora_rank=4, lora_alpha=1.5)


# The book's appendix E.
class LoRALayer(nn.Module):
    def __init__(self, in_dim, out_dim, rank, alpha):
        super().__init__()
        self.A = nn.Parameter(torch.empty(in_dim, rank))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(rank, out_dim))
        self.alpha = alpha

    def forward(self, x):
        return self.alpha * (x @ self.A @ self.B)


class LinearWithLoRA(nn.Module):
    def __init__(self, linear, rank, alpha):
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank,
                              alpha)

    def forward(self, x):
        return self.linear(x) + self.lora(x)


def replace_linear_with_lora(model, rank, alpha):
    for name, module in model.named_children():
        if isinstance(module, nn.Linear):
            setattr(model, name, LinearWithLoRA(module, rank, alpha))
        else:
            replace_linear_with_lora(module, rank, alpha)


class FusedAttention(nn.Module):
    """The book's MultiHeadAttention with one qkv Linear (GPT-2's c_attn)."""

    def __init__(self, att, d, qkv_bias):
        super().__init__()
        self.heads, self.hd = att.heads, att.hd
        self.c_attn = nn.Linear(d, 3 * d, bias=qkv_bias)
        self.out_proj = att.out_proj
        self.register_buffer("mask", att.mask)

    def forward(self, x, op_id):
        b, t, d = x.shape
        split = lambda y: y.view(b, t, self.heads, self.hd).transpose(1, 2)
        q, k, v = (split(y) for y in self.c_attn(x).split(d, dim=-1))
        scores = q @ k.transpose(2, 3)
        scores.masked_fill_(self.mask.bool()[:t, :t], -torch.inf)
        w = torch.softmax(scores / k.shape[-1] ** 0.5, dim=-1)
        return self.out_proj((w @ v).transpose(1, 2).contiguous().view(b, t, d))


def lora_model(c):
    model = GPTModel(c)
    for blk in model.trf_blocks:
        blk.att = FusedAttention(blk.att, c["emb_dim"], c["qkv_bias"])
    model.out_head = nn.Linear(c["emb_dim"], c["num_classes"])
    for p in model.parameters():
        p.requires_grad = False
    replace_linear_with_lora(model.trf_blocks, c["lora_rank"],
                             c["lora_alpha"])
    for p in model.out_head.parameters():
        p.requires_grad = True
    return model.double()


def gptc_names(model):
    """(gptc name, tensor) pairs of the model's parameters."""
    w = {"wte.weight": model.tok_emb.weight, "wpe.weight": model.pos_emb.weight}
    for i, blk in enumerate(model.trf_blocks):
        p = f"h.{i}."
        w[p + "ln_1.weight"], w[p + "ln_1.bias"] = blk.norm1.scale, blk.norm1.shift
        w[p + "ln_2.weight"], w[p + "ln_2.bias"] = blk.norm2.scale, blk.norm2.shift
        for name, layer in [("attn.c_attn", blk.att.c_attn),
                            ("attn.c_proj", blk.att.out_proj),
                            ("mlp.c_fc", blk.ff[0]), ("mlp.c_proj", blk.ff[2])]:
            w[p + name + ".weight"] = layer.linear.weight.T
            w[p + name + ".bias"] = layer.linear.bias
            w[p + name + ".lora_A"] = layer.lora.A
            w[p + name + ".lora_B"] = layer.lora.B
    w["ln_f.weight"], w["ln_f.bias"] = model.final_norm.scale, model.final_norm.shift
    w["out_head.weight"], w["out_head.bias"] = model.out_head.weight, model.out_head.bias
    return w


def main():
    torch.manual_seed(2024)
    c = CONFIG
    model = lora_model(c).eval()
    golden_inputs.randomize(model, lambda n: n.endswith("scale"))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    b, t = 4, 7
    tokens = torch.randint(0, c["vocab_size"], (b, t))
    labels = torch.randint(0, c["num_classes"], (b,))

    logits = model(tokens)[:, -1, :]
    loss = nn.functional.cross_entropy(logits, labels)
    loss.backward()
    names = gptc_names(model)
    tensors = {k: v.detach().contiguous().clone() for k, v in names.items()}
    for name, p in names.items():
        if p.requires_grad:
            tensors["expected.grad." + name] = p.grad.contiguous().clone()
    tensors["tokens"] = tokens.to(torch.int32)
    tensors["targets"] = labels.to(torch.int32)
    tensors["expected.logits"] = logits.detach().contiguous()
    tensors["expected.loss"] = loss.detach()

    model.load_state_dict(state)
    opt = torch.optim.AdamW(model.parameters(), lr=LR,
                            weight_decay=WEIGHT_DECAY)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        step_loss = nn.functional.cross_entropy(model(tokens)[:, -1, :], labels)
        step_loss.backward()
        opt.step()
        losses.append(step_loss.item())
    tensors["expected.steps.losses"] = torch.tensor(losses, dtype=torch.float64)

    # kaiming_uniform_(a=sqrt(5)) on [in, rank]: gain sqrt(2 / (1 + 5)),
    # fan-in rank (PyTorch's fan-in of a matrix is its second dim).
    probe = torch.empty(c["emb_dim"], c["lora_rank"])
    nn.init.kaiming_uniform_(probe, a=math.sqrt(5))
    bound = math.sqrt(3) * math.sqrt(2 / 6) / math.sqrt(c["lora_rank"])
    assert probe.abs().max().item() <= bound
    tensors["expected.lora_A_bound"] = torch.tensor(bound, dtype=torch.float64)

    out = os.path.join(HERE, "goldens")
    save_file(tensors, os.path.join(out, "lora.safetensors"),
              metadata={"generator": "tests/reference/make_lora_goldens.py",
                        "torch": torch.__version__})
    golden_inputs.write_config(os.path.join(out, "lora.yaml"), c,
                               "Written by tests/reference/make_lora_goldens.py")
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"lora: loss={loss.item():.12f}, {trained} trained parameters, "
          f"after {STEPS} steps: {losses[-1]:.12f}")


if __name__ == "__main__":
    main()
