"""Random weights and batches for the goldens, shared by make_goldens.py and
make_llama_goldens.py so that both draw them the same way."""
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
