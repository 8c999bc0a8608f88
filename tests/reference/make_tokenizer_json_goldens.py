#!/usr/bin/env python3
"""Writes the tokenizer.json goldens: byte-level BPE tokenizers as the
`tokenizers` package saves them, and the ids it gives, into
tests/reference/tokenizer/:

  gpt2.tokenizer.json    GPT-2's, converted from data/gpt2.tiktoken (vocab in
                         the byte alphabet, merges derived from the ranks),
                         ByteLevel pre-tokenizer and decoder
  llama3.tokenizer.json  a BPE of 1500 tokens trained on the bundled corpora
                         (with mixed.txt and random numbers)
                         with Llama 3's split pattern and ByteLevel without
                         a pattern, ignore_merges, <|begin_of_text|> and
                         <|end_of_text|> and 8 reserved special tokens after
                         the vocabulary, and a template adding BOS
  smollm.tokenizer.json  a BPE of 1000 tokens as SmolLM2's: digits split
                         individually, then ByteLevel with GPT-2's pattern,
                         special tokens first (ids 0..2)

and for each NAME and TEXT (the-verdict, mixed: tests/reference/tokenizer/
mixed.txt, specials: text with every special token) NAME.TEXT.u32: the ids
of `encode(text, add_special_tokens=False)` (little-endian uint32), which
decode back to the text.

Regenerate (pip install tokenizers):
  python3 tests/reference/make_tokenizer_json_goldens.py
"""
import base64
import os
import random
import struct
import tempfile

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from tokenizers import processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "reference", "tokenizer")
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
          r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def byte_alphabet():
    direct = (list(range(ord("!"), ord("~") + 1)) +
              list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100)))
    out, n = {}, 0
    for b in range(256):
        if b in direct:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + n)
            n += 1
    return out


def gpt2():
    """GPT-2's tokenizer.json from the shipped tiktoken ranks."""
    ranks = {}
    with open(os.path.join(ROOT, "data", "gpt2.tiktoken"), "rb") as f:
        for line in f:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    alphabet = byte_alphabet()
    show = lambda bs: "".join(alphabet[b] for b in bs)

    def split(token, rank):
        # The BPE of `token` with merges ranked below its own stops at the
        # two parts whose merge makes it.
        parts = [bytes([b]) for b in token]
        while len(parts) > 2:
            best = min((ranks.get(parts[i] + parts[i + 1], 1 << 30), i)
                       for i in range(len(parts) - 1))
            if best[0] >= rank:
                break
            i = best[1]
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        assert len(parts) == 2, token
        return parts

    vocab = {show(t): r for t, r in ranks.items()}
    merges = [(show(a), show(b)) for t, r in sorted(ranks.items(),
                                                     key=lambda x: x[1])
              if len(t) > 1 for a, b in [split(t, r)]]
    tok = Tokenizer(models.BPE(vocab, merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    assert tok.token_to_id("<|endoftext|>") == 50256
    return tok


def corpus(work):
    """The bundled corpora, the mixed corpus and numbers: merges of digits,
    punctuation and non-Latin scripts, so every branch of the pattern shows
    in the ids (3-digit groups only if digit pairs merge)."""
    rng = random.Random(7)
    numbers = os.path.join(work, "numbers.txt")
    with open(numbers, "w") as f:
        for _ in range(20000):
            f.write(str(rng.choice([12, 123, 456, 1234, 45, 67, 4567,
                                    rng.randrange(10 ** 7)])) + " ")
    return [os.path.join(ROOT, "data", n)
            for n in ("the-verdict.txt", "tinyshakespeare.txt")] + [
                os.path.join(OUT, "mixed.txt"), numbers]


def llama3(work):
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train(corpus(work), trainers.BpeTrainer(
        vocab_size=1500, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    specials = (["<|begin_of_text|>", "<|end_of_text|>"] +
                [f"<|reserved_special_token_{i}|>" for i in range(8)])
    tok.add_special_tokens(specials)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(
            single="<|begin_of_text|> $A",
            pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
            special_tokens=[("<|begin_of_text|>", bos)])])
    return tok, specials


def smollm(work):
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.train(corpus(work), trainers.BpeTrainer(
        vocab_size=1000, show_progress=False, special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok, specials


def main():
    texts = {
        "the-verdict": open(os.path.join(ROOT, "data", "the-verdict.txt"),
                            encoding="utf-8").read(),
        "mixed": open(os.path.join(OUT, "mixed.txt"), encoding="utf-8",
                      newline="").read(),
    }
    gpt2_tok = gpt2()
    with tempfile.TemporaryDirectory() as work:
        llama_tok, llama_specials = llama3(work)
        smol_tok, smol_specials = smollm(work)
    for name, tok, specials in [("gpt2", gpt2_tok, ["<|endoftext|>"]),
                                ("llama3", llama_tok, llama_specials),
                                ("smollm", smol_tok, smol_specials)]:
        tok.save(os.path.join(OUT, name + ".tokenizer.json"), pretty=False)
        own = dict(texts)
        own["specials"] = ("x" + specials[0] + "ab 12345 (hello) 1234567\n\n" +
                           "I'M we'Ve ſ's 100$ 4.56\r\n  \n x" +
                           "".join(s + " y " for s in specials) +
                           specials[-1] + specials[0])
        for text_name, text in own.items():
            ids = tok.encode(text, add_special_tokens=False).ids
            assert tok.decode(ids, skip_special_tokens=False) == text
            with open(os.path.join(OUT, f"{name}.{text_name}.u32"), "wb") as f:
                f.write(struct.pack(f"<{len(ids)}I", *ids))
            print(f"{name} {text_name}: {len(text)} characters, "
                  f"{len(ids)} tokens")
        with_bos = tok.encode("hi", add_special_tokens=True).ids
        print(f"{name}: 'hi' with special tokens: {with_bos}")


if __name__ == "__main__":
    main()
