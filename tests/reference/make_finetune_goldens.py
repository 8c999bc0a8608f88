#!/usr/bin/env python3
"""Writes the PyTorch goldens of the book's two fine-tunings (chapters 6, 7).

The model is make_goldens.py's GPTModel (the book's chapter 4 GPT, float64),
changed as each chapter changes it; the data code is the book's:

  finetune-classifier.{yaml,safetensors}  chapter 6: out_head replaced by a
      Linear(emb_dim, num_classes) with bias, read at the last position;
      every parameter frozen but the last block, the final norm and the head.
      Holds the weights (gptc names), a batch whose rows end in padding, the
      expected class logits at the last position and at each row's last
      non-padding token, the loss, the batch's accuracy (argmax of the
      logits against the labels), the gradients of the trained parameters
      and the losses of 10 AdamW steps (lr 1e-3, weight decay 0.1, no
      clipping: train_classifier_simple does not clip).
  finetune-instruct.{yaml,safetensors}  chapter 7: custom_collate_fn on
      ragged batches (pad 50256; without a length limit, cut to 4 and with
      the instruction masked as exercise 7.2 does), then the LM trained 10
      AdamW steps (no clipping, as train_model_simple) on a collated batch
      of random texts with prompt masking, padded with the model's last id.

Regenerate (needs torch and safetensors from PyPI):
  python3 tests/reference/make_finetune_goldens.py
"""
import os

import torch
import torch.nn as nn
from safetensors.torch import save_file

import golden_inputs
from make_goldens import GPTModel, gptc_weights

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS, LR, WEIGHT_DECAY = 10, 1e-3, 0.1

CLASSIFIER = dict(vocab_size=97, context_length=16, emb_dim=24, n_heads=3,
                  n_layers=2, drop_rate=0.0, qkv_bias=True,
                  tie_embeddings=False, num_classes=3, pad_token_id=96)
INSTRUCT = dict(vocab_size=97, context_length=16, emb_dim=24, n_heads=3,
                n_layers=2, drop_rate=0.0, qkv_bias=True, tie_embeddings=True)


def custom_collate_fn(batch, pad_token_id=50256, ignore_index=-100,
                      allowed_max_length=None, mask_instruction=False):
    """The book's collate (chapter 7) with exercise 7.2's instruction mask;
    `batch` holds (instruction_length, token ids) pairs."""
    batch_max_length = max(len(item) + 1 for _, item in batch)
    inputs_lst, targets_lst = [], []
    for instruction_length, item in batch:
        new_item = item.copy()
        new_item += [pad_token_id]
        padded = new_item + [pad_token_id] * (batch_max_length - len(new_item))
        inputs = torch.tensor(padded[:-1])
        targets = torch.tensor(padded[1:])
        mask = targets == pad_token_id
        indices = torch.nonzero(mask).squeeze()
        if indices.numel() > 1:
            targets[indices[1:]] = ignore_index
        if mask_instruction:
            targets[:instruction_length - 1] = ignore_index
        if allowed_max_length is not None:
            inputs = inputs[:allowed_max_length]
            targets = targets[:allowed_max_length]
        inputs_lst.append(inputs)
        targets_lst.append(targets)
    return (torch.stack(inputs_lst).to(torch.int32),
            torch.stack(targets_lst).to(torch.int32))


def ragged(texts, prompt_lengths, prefix):
    """A ragged batch as flat tensors: the ids, each text's length and its
    prompt's length."""
    return {prefix + "texts": torch.tensor(sum(texts, []), dtype=torch.int32),
            prefix + "lengths": torch.tensor([len(t) for t in texts],
                                             dtype=torch.int32),
            prefix + "prompt_lengths": torch.tensor(prompt_lengths,
                                                    dtype=torch.int32)}


def adamw_losses(model, loss_fn):
    """Losses of STEPS AdamW steps over the parameters that require grad
    (the book passes all of them; frozen ones have no gradient)."""
    opt = torch.optim.AdamW(model.parameters(), lr=LR,
                            weight_decay=WEIGHT_DECAY)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return torch.tensor(losses, dtype=torch.float64)


def classifier_weights(model, c):
    w = gptc_weights(model, c)
    del w["lm_head.weight"]
    w["out_head.weight"] = model.out_head.weight.detach().clone()
    w["out_head.bias"] = model.out_head.bias.detach().clone()
    return w


def trained_grads(model, c):
    """The gradients of the trained parameters under gptc's names (frozen
    ones have none: NaN stand-ins, dropped after the renaming)."""
    saved = {n: p.data for n, p in model.named_parameters()}
    for p in model.parameters():
        p.data = (p.grad if p.grad is not None
                  else torch.full_like(p, float("nan")))
    grads = classifier_weights(model, c)
    for n, p in model.named_parameters():
        p.data = saved[n]
    return {k: g for k, g in grads.items() if not g.isnan().any()}


def make_classifier():
    c = CLASSIFIER
    model = GPTModel(c).double().eval()
    model.out_head = nn.Linear(c["emb_dim"], c["num_classes"]).double()
    golden_inputs.randomize(model, lambda n: n.endswith("scale"))
    for p in model.parameters():
        p.requires_grad = False
    for module in (model.trf_blocks[-1], model.final_norm, model.out_head):
        for p in module.parameters():
            p.requires_grad = True
    state = {k: v.clone() for k, v in model.state_dict().items()}

    b, t, pad = 5, 7, c["pad_token_id"]
    tokens = torch.randint(0, pad, (b, t))
    for row, n in enumerate([0, 2, 6, 1, 7]):  # trailing padding per row
        tokens[row, t - n:] = pad
    # Random labels, two of them the model's prediction, so the accuracy
    # counts hits and misses.
    labels = torch.randint(0, c["num_classes"], (b,))
    with torch.no_grad():
        labels[:2] = torch.argmax(model(tokens)[:2, -1, :], dim=-1)

    logits = model(tokens)[:, -1, :]
    loss = nn.functional.cross_entropy(logits, labels)
    loss.backward()
    accuracy = (torch.argmax(logits, dim=-1) == labels).double().mean()
    # The option: each row's last non-padding token (position 0 if none).
    last = [max([i for i in range(t) if tokens[r, i] != pad], default=0)
            for r in range(b)]
    with torch.no_grad():
        pooled = model(tokens)[torch.arange(b), torch.tensor(last)]

    tensors = classifier_weights(model, c)
    for name, g in trained_grads(model, c).items():
        tensors["expected.grad." + name] = g
    tensors["tokens"] = tokens.to(torch.int32)
    tensors["targets"] = labels.to(torch.int32)
    tensors["expected.logits"] = logits.detach()
    tensors["expected.logits_last_non_padding"] = pooled
    tensors["expected.loss"] = loss.detach()
    tensors["expected.accuracy"] = accuracy

    model.load_state_dict(state)
    tensors["expected.steps.losses"] = adamw_losses(
        model, lambda: nn.functional.cross_entropy(model(tokens)[:, -1, :],
                                                   labels))
    return c, tensors, (f"loss={loss.item():.12f} accuracy={accuracy.item()} "
                        f"after {STEPS} steps: "
                        f"{tensors['expected.steps.losses'][-1].item():.12f}")


def make_instruct():
    tensors = {}
    # The book's example batch, a text holding the pad id itself (the
    # book's mask then ignores it too), and exercise 7.2's prompt lengths.
    texts = [[0, 1, 2, 3, 4], [5, 6], [7, 8, 9], [10, 50256, 11, 12]]
    prompts = [3, 1, 2, 2]
    batch = list(zip(prompts, texts))
    tensors.update(ragged(texts, prompts, "collate."))
    for name, kwargs in {"plain": {}, "cut4": dict(allowed_max_length=4),
                         "masked": dict(mask_instruction=True)}.items():
        x, y = custom_collate_fn(batch, **kwargs)
        tensors[f"expected.collate.{name}.inputs"] = x
        tensors[f"expected.collate.{name}.targets"] = y

    c = INSTRUCT
    model = GPTModel(c).double().train()
    golden_inputs.randomize(model, lambda n: n.endswith("scale"))
    pad, limit = c["vocab_size"] - 1, 12
    lengths, prompts = [9, 4, 14, 6], [5, 2, 7, 3]
    texts = [torch.randint(0, pad, (n,)).tolist() for n in lengths]
    tensors.update(ragged(texts, prompts, "train."))
    tokens, targets = custom_collate_fn(list(zip(prompts, texts)), pad, -100,
                                        limit, mask_instruction=True)
    tensors.update(gptc_weights(model, c))
    tensors["expected.train.inputs"] = tokens
    tensors["expected.train.targets"] = targets
    tokens = tokens.long()
    tensors["expected.steps.losses"] = adamw_losses(
        model, lambda: nn.functional.cross_entropy(
            model(tokens).flatten(0, 1), targets.long().flatten(),
            ignore_index=-100))
    return c, tensors, (f"B={tokens.shape[0]} T={tokens.shape[1]} after "
                        f"{STEPS} steps: "
                        f"{tensors['expected.steps.losses'][-1].item():.12f}")


def main():
    torch.manual_seed(4321)
    out = os.path.join(HERE, "goldens")
    os.makedirs(out, exist_ok=True)
    for name, make in {"finetune-classifier": make_classifier,
                       "finetune-instruct": make_instruct}.items():
        c, tensors, summary = make()
        save_file({k: v.contiguous() for k, v in tensors.items()},
                  os.path.join(out, name + ".safetensors"),
                  metadata={"generator":
                            "tests/reference/make_finetune_goldens.py",
                            "torch": torch.__version__})
        golden_inputs.write_config(
            os.path.join(out, name + ".yaml"), c,
            "Written by tests/reference/make_finetune_goldens.py")
        print(f"{name}: {summary}")


if __name__ == "__main__":
    main()
