#!/usr/bin/env python3
"""sphinx_lm.py IN.lm.bin OUT.arpa: a CMU Sphinx trie LM ("Trie Language Model", order 3, as
`pocketsphinx-en-us` ships `en-us.lm.bin`) written as ARPA text. Python 3 standard library.

sphinxbase's own converter (`sphinx_lm_convert`, Debian `sphinxbase-utils`) stops on this file
with a failed assertion (its trie walk finds 2,051,541 bigrams where the header counts
2,051,547), and pocketsphinx 5's `NGramModel.write` crashes in the trigrams; this reader walks
the trie itself. Its bigrams equal those pocketsphinx 5 writes before it crashes (all 2,051,511
it wrote, to the 4 decimals it writes).

Layout (sphinxbase ngram_model_trie.c, lm_trie.c, lm_trie_quant.c): the header string, uint8
order, uint32 counts[order]; int32 0 and the quantization tables (65,536 float bins each: middle
probabilities, middle backoffs, longest probabilities); counts[0] + 1 unigrams {float prob,
float backoff, uint32 first child}; the bit-packed middle level (word, 16-bit backoff code,
16-bit probability code, first child) and longest level (word, 16-bit probability code), each
padded by one entry and 8 bytes; int32 k and k bytes of NUL-terminated words. The trie is keyed
by reversed n-grams: a unigram's children are the words before it. Weights are logarithms to
base 1.0001 (sphinxbase's default logmath base).
"""
import math
import struct
import sys

HDR = b"Trie Language Model"
# Values are logarithms to base 1.0001 (sphinxbase's logmath): log10 p = value * ln(1.0001) / ln(10).
LOG_BASE = math.log(1.0001) / math.log(10.0)


def required_bits(max_value):
    return max(1, int(max_value).bit_length())


class BitArray:
    def __init__(self, data):
        self.data = bytes(data) + bytes(8)

    def read(self, offset, bits):
        """The little-endian field of `bits` bits starting at bit `offset`."""
        b = offset >> 3
        return (int.from_bytes(self.data[b:b + 8], "little") >> (offset & 7)) & ((1 << bits) - 1)


def main(src, dst):
    with open(src, "rb") as f:
        data = f.read()
    if not data.startswith(HDR):
        sys.exit(f"{src}: not a Sphinx trie LM (no '{HDR.decode()}' header)")
    pos = len(HDR)
    if len(data) < pos + 1 + 12:
        sys.exit(f"{src}: {len(data)} bytes is too short for a header")
    order = data[pos]
    pos += 1
    if order != 3:
        sys.exit(f"{src}: an order-{order} model; only trigram models are read")
    counts = struct.unpack_from("<3I", data, pos)
    pos += 12 + 4  # counts, then an unused int32
    wbits, nbits = required_bits(counts[0]), required_bits(counts[2])
    mid_total, long_total = wbits + 32 + nbits, wbits + 16
    mid_size = ((1 + counts[1]) * mid_total + 7) // 8 + 8
    long_size = ((1 + counts[2]) * long_total + 7) // 8 + 8
    need = pos + 3 * 65536 * 4 + (counts[0] + 1) * 12 + mid_size + long_size + 4
    if need > len(data):
        sys.exit(f"{src}: {len(data)} bytes is shorter than its counts {counts} need ({need})")
    bins = struct.unpack_from("<%df" % (3 * 65536), data, pos)
    mid_prob, mid_bo, long_prob = bins[:65536], bins[65536:131072], bins[131072:]
    pos += 3 * 65536 * 4
    unigrams = list(struct.iter_unpack("<ffI", data[pos:pos + (counts[0] + 1) * 12]))
    pos += (counts[0] + 1) * 12
    mid = BitArray(data[pos:pos + mid_size])
    lng = BitArray(data[pos + mid_size:pos + mid_size + long_size])
    pos += mid_size + long_size
    (k,) = struct.unpack_from("<i", data, pos)
    words = [w.decode("utf-8") for w in data[pos + 4:pos + 4 + k].split(b"\0")[:counts[0]]]
    if len(words) != counts[0]:
        sys.exit(f"{src}: {len(words)} words where the header counts {counts[0]}")

    def lg(x):
        return x * LOG_BASE

    bigrams, trigrams = [], []
    for last in range(counts[0]):
        for i in range(unigrams[last][2], unigrams[last + 1][2]):
            at = i * mid_total
            before = mid.read(at, wbits)
            bo = mid_bo[mid.read(at + wbits, 16)]
            prob = mid_prob[mid.read(at + wbits + 16, 16)]
            first = mid.read(at + wbits + 32, nbits)
            end = mid.read(at + mid_total + wbits + 32, nbits)
            bigrams.append((words[before], words[last], lg(prob), lg(bo)))
            for j in range(first, end):
                at3 = j * long_total
                w1 = words[lng.read(at3, wbits)]
                p3 = long_prob[lng.read(at3 + wbits, 16)]
                trigrams.append((w1, words[before], words[last], lg(p3)))
    with open(dst, "w", encoding="utf-8") as o:
        o.write("\\data\\\n")
        o.write(f"ngram 1={counts[0]}\nngram 2={len(bigrams)}\nngram 3={len(trigrams)}\n")
        o.write("\n\\1-grams:\n")
        for w in range(counts[0]):
            o.write(f"{lg(unigrams[w][0]):.4f}\t{words[w]}\t{lg(unigrams[w][1]):.4f}\n")
        o.write("\n\\2-grams:\n")
        for a, b, p, bo in sorted(bigrams):
            o.write(f"{p:.4f}\t{a} {b}\t{bo:.4f}\n")
        o.write("\n\\3-grams:\n")
        for a, b, c, p in sorted(trigrams):
            o.write(f"{p:.4f}\t{a} {b} {c}\n")
        o.write("\n\\end\\\n")
    print(f"{dst}: {counts[0]} unigrams, {len(bigrams)} bigrams, {len(trigrams)} trigrams "
          f"(header counts {counts})", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
