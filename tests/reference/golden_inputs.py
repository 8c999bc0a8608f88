"""Random weights and batches for the goldens, and their config files,
shared by the make_*goldens.py scripts so that all draw and write them the
same way."""
import torch


def randomize(model, is_scale):
    """Weights larger than GPT-2's 0.02, so every op changes the result
    visibly: N(1, 0.1) for normalisation scales (`is_scale(name)`),
    N(0, 0.3) for the rest."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if is_scale(name):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))


def batch(vocab_size, batch_size, seq_len):
    """Random tokens and targets; one target -100 (ignored, as in
    instruction tuning) when the batch has more than two."""
    tokens = torch.randint(0, vocab_size, (batch_size, seq_len))
    targets = torch.randint(0, vocab_size, (batch_size, seq_len))
    if batch_size * seq_len > 2:
        targets[0, 0] = -100
    return tokens, targets


def write_config(path, config, header):
    """`config` as the YAML gptc reads (`--config`), after a `# header`."""
    with open(path, "w") as f:
        f.write("# " + header + "\n")
        for k, v in config.items():
            f.write(f"{k}: {str(v).lower() if isinstance(v, bool) else v}\n")
