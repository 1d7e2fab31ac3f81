#!/usr/bin/env python3
"""Spread the feature ids of libFM files over a larger index space, as feature hashing does.

Every id i (0 <= i < --ids) is mapped to a distinct id drawn at random from [0, --space), the same map for every
input file (seeded), and the rows are written otherwise unchanged. Used to check that training cost and model size
follow the features that occur, not the largest id (issue 10):

    python3 scripts/spread_ids.py --ids 5382 --space 4194304 \
        frappe_tr.libfm:/tmp/frappe_tr.spread.libfm frappe_te.libfm:/tmp/frappe_te.spread.libfm
"""
import argparse
import random


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", type=int, required=True, help="the index space of the input (largest id + 1)")
    parser.add_argument("--space", type=int, default=1 << 22, help="the index space to spread over (default 2^22)")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("pairs", nargs="+", help="INPUT:OUTPUT pairs")
    args = parser.parse_args()
    if args.space < args.ids:
        parser.error("--space must be at least --ids")
    new_id = random.Random(args.seed).sample(range(args.space), args.ids)
    for pair in args.pairs:
        source, target = pair.split(":", 1)
        with open(source, encoding="ascii") as reader, open(target, "w", encoding="ascii", newline="\n") as writer:
            for number, line in enumerate(reader, 1):
                parts = line.split()
                if not parts:
                    writer.write("\n")
                    continue
                out = [parts[0]]
                for item in parts[1:]:
                    index, value = item.split(":", 1)
                    i = int(index)
                    if not 0 <= i < args.ids:
                        raise SystemExit(f"{source}:{number}: id {i} is outside 0..{args.ids - 1}")
                    out.append(f"{new_id[i]}:{value}")
                writer.write(" ".join(out) + "\n")


if __name__ == "__main__":
    main()
