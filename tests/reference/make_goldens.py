#!/usr/bin/env python3
"""Writes the PyTorch goldens that gptc's interpreter is checked against.

The model below is the book's GPTModel (chapter 4), written independently of
gptc: separate W_query/W_key/W_value projections, LayerNorm with scale/shift
and the biased variance, tanh-approximated GELU, an untied or tied out_head.
It runs in float64 in eval mode (dropout off). For each small config it
writes, into goldens/:

  NAME.yaml          the model config, for `gptc --config`
  NAME.safetensors   every parameter under gptc's names (F64; q/k/v fused
                     into c_attn (d, 3d), matmul weights stored (in, out)),
                     tokens and targets (I32, some targets -100), and the
                     expected logits, loss and every parameter's gradient
                     (eval mode), and the losses of 10 AdamW steps (lr 1e-3,
                     weight decay 0.1, gradient clipping at 1.0) with dropout
                     off and with the config's dropout, whose masks come from
                     gptc's Philox stream (docs/RNG.md) so both sides drop
                     the same elements

Regenerate (needs torch and safetensors from PyPI):
  python3 tests/reference/make_goldens.py
"""
import os

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file

import golden_inputs

HERE = os.path.dirname(os.path.abspath(__file__))

# name: (config, batch, seq_len). Tied and untied, qkv bias on and off,
# T = 1, an odd T, T shorter than and equal to context_length.
CONFIGS = {
    "tied-bias-odd-t": (dict(vocab_size=97, context_length=16, emb_dim=24,
                             n_heads=3, n_layers=2, drop_rate=0.1,
                             qkv_bias=True, tie_embeddings=True), 2, 7),
    "untied-nobias-t1": (dict(vocab_size=50, context_length=8, emb_dim=16,
                              n_heads=4, n_layers=1, drop_rate=0.0,
                              qkv_bias=False, tie_embeddings=False), 3, 1),
    "untied-bias-full-ctx": (dict(vocab_size=64, context_length=12, emb_dim=32,
                                  n_heads=2, n_layers=3, drop_rate=0.2,
                                  qkv_bias=True, tie_embeddings=False), 1, 12),
}


STEPS, LR, WEIGHT_DECAY, CLIP, SEED = 10, 1e-3, 0.1, 1.0, 42
MASK32 = np.uint64(0xFFFFFFFF)


def philox_uniform(seed, step, op_id, n):
    """gptc's dropout uniforms for elements 0..n-1 (docs/RNG.md)."""
    idx = np.arange(n, dtype=np.uint64)
    group = idx >> np.uint64(2)
    c0, c1 = group & MASK32, group >> np.uint64(32)
    c2 = np.full(n, op_id, dtype=np.uint64)
    c3 = np.full(n, step & 0xFFFFFFFF, dtype=np.uint64)
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)
    for r in range(10):
        if r:
            k0 = (k0 + np.uint64(0x9E3779B9)) & MASK32
            k1 = (k1 + np.uint64(0xBB67AE85)) & MASK32
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        c0, c1, c2, c3 = (((p1 >> np.uint64(32)) ^ c1 ^ k0) & MASK32, p1 & MASK32,
                          ((p0 >> np.uint64(32)) ^ c3 ^ k1) & MASK32, p0 & MASK32)
    out = np.stack([c0, c1, c2, c3])[idx & np.uint64(3), np.arange(n)]
    return (out >> np.uint64(8)).astype(np.float64) / float(1 << 24)


class Dropout:
    """Dropout whose masks are gptc's: op ids in gptc's program order."""
    seed, step = 0, 0

    def __init__(self, p):
        self.p = p

    def __call__(self, x, op_id, training):
        if not training or self.p == 0:
            return x
        u = philox_uniform(Dropout.seed, Dropout.step, op_id, x.numel())
        keep = torch.from_numpy(u >= self.p).reshape(x.shape)
        return torch.where(keep, x / (1 - self.p), torch.zeros_like(x))


class LayerNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.eps = 1e-5
        self.scale = nn.Parameter(torch.ones(d))
        self.shift = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        return self.scale * (x - mean) / torch.sqrt(var + self.eps) + self.shift


class GELU(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1 + torch.tanh(
            torch.sqrt(torch.tensor(2.0 / torch.pi, dtype=x.dtype)) *
            (x + 0.044715 * torch.pow(x, 3))))


class MultiHeadAttention(nn.Module):
    def __init__(self, d, ctx, dropout, heads, qkv_bias):
        super().__init__()
        self.heads, self.hd = heads, d // heads
        self.W_query = nn.Linear(d, d, bias=qkv_bias)
        self.W_key = nn.Linear(d, d, bias=qkv_bias)
        self.W_value = nn.Linear(d, d, bias=qkv_bias)
        self.out_proj = nn.Linear(d, d)
        self.dropout = Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(ctx, ctx), 1))

    def forward(self, x, op_id):
        b, t, d = x.shape
        split = lambda y: y.view(b, t, self.heads, self.hd).transpose(1, 2)
        q, k, v = split(self.W_query(x)), split(self.W_key(x)), split(self.W_value(x))
        scores = q @ k.transpose(2, 3)
        scores.masked_fill_(self.mask.bool()[:t, :t], -torch.inf)
        w = self.dropout(torch.softmax(scores / k.shape[-1] ** 0.5, dim=-1),
                         op_id, self.training)
        ctx = (w @ v).transpose(1, 2).contiguous().view(b, t, d)
        return self.out_proj(ctx)


class TransformerBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["emb_dim"]
        self.att = MultiHeadAttention(d, c["context_length"], c["drop_rate"],
                                      c["n_heads"], c["qkv_bias"])
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), GELU(), nn.Linear(4 * d, d))
        self.norm1, self.norm2 = LayerNorm(d), LayerNorm(d)
        self.drop_shortcut = Dropout(c["drop_rate"])

    def forward(self, x, first_id):
        # gptc numbers a block's dropouts in program order: attention
        # weights, the attention residual, the MLP residual.
        x = x + self.drop_shortcut(self.att(self.norm1(x), first_id),
                                   first_id + 1, self.training)
        return x + self.drop_shortcut(self.ff(self.norm2(x)), first_id + 2,
                                      self.training)


class GPTModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.tok_emb = nn.Embedding(c["vocab_size"], c["emb_dim"])
        self.pos_emb = nn.Embedding(c["context_length"], c["emb_dim"])
        self.drop_emb = Dropout(c["drop_rate"])
        self.trf_blocks = nn.ModuleList(
            [TransformerBlock(c) for _ in range(c["n_layers"])])
        self.final_norm = LayerNorm(c["emb_dim"])
        self.out_head = nn.Linear(c["emb_dim"], c["vocab_size"], bias=False)
        if c["tie_embeddings"]:
            self.out_head.weight = self.tok_emb.weight

    def forward(self, idx):
        t = idx.shape[1]
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(t))
        x = self.drop_emb(x, 0, self.training)
        for i, block in enumerate(self.trf_blocks):
            x = block(x, 1 + 3 * i)
        return self.out_head(self.final_norm(x))


def gptc_weights(model, c):
    """The model's parameters under gptc's (Hugging Face GPT-2) names."""
    w = {"wte.weight": model.tok_emb.weight, "wpe.weight": model.pos_emb.weight}
    for i, blk in enumerate(model.trf_blocks):
        p = f"h.{i}."
        a = blk.att
        w[p + "ln_1.weight"], w[p + "ln_1.bias"] = blk.norm1.scale, blk.norm1.shift
        w[p + "attn.c_attn.weight"] = torch.cat(
            [a.W_query.weight.T, a.W_key.weight.T, a.W_value.weight.T], dim=1)
        if c["qkv_bias"]:
            w[p + "attn.c_attn.bias"] = torch.cat(
                [a.W_query.bias, a.W_key.bias, a.W_value.bias])
        w[p + "attn.c_proj.weight"] = a.out_proj.weight.T
        w[p + "attn.c_proj.bias"] = a.out_proj.bias
        w[p + "ln_2.weight"], w[p + "ln_2.bias"] = blk.norm2.scale, blk.norm2.shift
        w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"] = blk.ff[0].weight.T, blk.ff[0].bias
        w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"] = blk.ff[2].weight.T, blk.ff[2].bias
    w["ln_f.weight"], w["ln_f.bias"] = model.final_norm.scale, model.final_norm.shift
    if not c["tie_embeddings"]:
        w["lm_head.weight"] = model.out_head.weight
    return {k: v.detach().contiguous().clone() for k, v in w.items()}


def cross_entropy(logits, targets):
    return nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(),
                                       ignore_index=-100)


def step_losses(c, state, tokens, targets, dropout):
    """Losses of STEPS AdamW steps from `state`, as torch trains the book's
    model (clip_grad_norm_, then AdamW)."""
    model = GPTModel(c).double()
    model.load_state_dict(state)
    model.train(dropout)
    opt = torch.optim.AdamW(model.parameters(), lr=LR,
                            weight_decay=WEIGHT_DECAY)
    losses = []
    for step in range(1, STEPS + 1):
        Dropout.seed, Dropout.step = SEED, step
        opt.zero_grad()
        loss = cross_entropy(model(tokens), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        losses.append(loss.item())
    return torch.tensor(losses, dtype=torch.float64)


def gptc_weights_with_grads(model, c):
    """(gptc name, tensor with .grad) pairs: the mapping of gptc_weights
    applied to the gradients."""
    saved = {n: p.data for n, p in model.named_parameters()}
    for n, p in model.named_parameters():
        p.data = p.grad
    grads = gptc_weights(model, c)
    for n, p in model.named_parameters():
        p.data = saved[n]
    return [(name, _Grad(g)) for name, g in grads.items()]


class _Grad:
    def __init__(self, g):
        self.grad = g


def main():
    torch.manual_seed(1234)
    out = os.path.join(HERE, "goldens")
    os.makedirs(out, exist_ok=True)
    for name, (c, batch, seq) in CONFIGS.items():
        model = GPTModel(c).double().eval()
        # SEED is the dropout seed; torch's own RNG makes the weights.
        golden_inputs.randomize(model, lambda n: n.endswith("scale"))
        tokens, targets = golden_inputs.batch(c["vocab_size"], batch, seq)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        logits = model(tokens)
        loss = cross_entropy(logits, targets)
        loss.backward()
        grads = {name: p.grad for name, p in gptc_weights_with_grads(model, c)}
        tensors = gptc_weights(model, c)
        tensors["tokens"] = tokens.to(torch.int32)
        tensors["targets"] = targets.to(torch.int32)
        tensors["expected.logits"] = logits.detach()
        tensors["expected.loss"] = loss.detach()
        for pname, g in grads.items():
            tensors["expected.grad." + pname] = g.contiguous()
        tensors["expected.steps.losses"] = step_losses(c, state, tokens,
                                                       targets, False)
        tensors["expected.steps_dropout.losses"] = step_losses(
            c, state, tokens, targets, True)
        save_file(tensors, os.path.join(out, name + ".safetensors"),
                  metadata={"generator": "tests/reference/make_goldens.py",
                            "torch": torch.__version__})
        golden_inputs.write_config(
            os.path.join(out, name + ".yaml"), c,
            "Written by tests/reference/make_goldens.py")
        print(f"{name}: B={batch} T={seq} loss={loss.item():.12f} "
              f"after {STEPS} steps: "
              f"{tensors['expected.steps.losses'][-1].item():.12f} (no dropout), "
              f"{tensors['expected.steps_dropout.losses'][-1].item():.12f} "
              f"(dropout {c['drop_rate']})")


if __name__ == "__main__":
    main()
