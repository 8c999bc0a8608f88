#!/usr/bin/env python3
"""Writes the tokenizer goldens: tiktoken's "gpt2" token ids for the shipped
corpora and for a generated corpus of mixed Unicode, into
tests/reference/tokenizer/ (ids as little-endian uint16, the format of
llm.c's token shards).

tiktoken is built from the local data/gpt2.tiktoken (no download), with
GPT-2's pattern and <|endoftext|> = 50256. Regenerate (pip install tiktoken):
  python3 tests/reference/make_tokenizer_goldens.py
"""
import os
import random
import struct

import tiktoken
from tiktoken.load import load_tiktoken_bpe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "reference", "tokenizer")
PATTERN = (r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+"""
           r"""|\s+(?!\S)|\s+""")


def encoding():
    ranks = load_tiktoken_bpe(os.path.join(ROOT, "data", "gpt2.tiktoken"))
    return tiktoken.Encoding(name="gpt2-local", pat_str=PATTERN,
                             mergeable_ranks=ranks,
                             special_tokens={"<|endoftext|>": 50256})


def mixed_corpus(seed=2026, pieces=4000):
    """Text that exercises every branch of the pre-tokenizer."""
    rng = random.Random(seed)
    words = ["the", "The", "don't", "I'M", "we've", "they'll", "she'd",
             "it's", "'s", "x'll", "naïve", "café", "Ünïcödé", "straße",
             "日本語", "中文字符", "한국어", "안녕하세요", "Привет", "Ελληνικά",
             "עברית", "العربية", "हिन्दी", "ไทย", "emoji😀", "👍🏽", "🇺🇸",
             "👨‍👩‍👧‍👦", "e\u0301", "a\u0308\u0323", "123", "4.56",
             "٣٤٥", "Ⅻ", "½", "①", "x²", "$100", "50%", "C++", "a->b",
             "<|endof", "text|>", "...", "!!!", "«»", "—", "\u200b", "\ufeff",
             "tab\there", "\u00a0", "\u3000", "\u2028", "ﬁ", "𝔘𝔫𝔦"]
    spaces = [" ", "  ", "   ", "\n", "\n\n", "\t", " \n ", "\r\n", "",
              "\u00a0 ", "    \n"]
    out = []
    for _ in range(pieces):
        out.append(rng.choice(words))
        out.append(rng.choice(spaces))
    return "".join(out)


def write_ids(name, ids):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(struct.pack(f"<{len(ids)}H", *ids))


def main():
    os.makedirs(OUT, exist_ok=True)
    enc = encoding()
    mixed = mixed_corpus()
    with open(os.path.join(OUT, "mixed.txt"), "w", encoding="utf-8",
              newline="") as f:
        f.write(mixed)
    for name, text in [
        ("the-verdict", open(os.path.join(ROOT, "data", "the-verdict.txt"),
                             encoding="utf-8").read()),
        ("tinyshakespeare", open(os.path.join(ROOT, "data",
                                              "tinyshakespeare.txt"),
                                 encoding="utf-8").read()),
        ("mixed", mixed),
    ]:
        ids = enc.encode(text, disallowed_special=())
        assert enc.decode(ids) == text
        write_ids(name + ".u16", ids)
        print(f"{name}: {len(text)} characters, {len(ids)} tokens")


if __name__ == "__main__":
    main()
