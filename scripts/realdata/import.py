#!/usr/bin/env python3
"""Builds labeled folders of recorded human speech from Debian packages.

    scripts/realdata/import.py {bass,fotaq,asterisk,all} --out /work/data/real [--cache DIR]

Writes OUT/{train,dev,test}/SOURCE/SPEAKER/NAME.wav (16 kHz mono 16-bit) + NAME.txt, and
OUT/SOURCE.tsv (file, speaker, split, seconds, text); prints each source's dataset report and
saves it as OUT/SOURCE.report. See scripts/realdata/README.md.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

SOURCES = ("bass", "fotaq", "drascula", "asterisk")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", choices=SOURCES + ("all",))
    ap.add_argument("--out", required=True, help="output folder (outside the repository)")
    ap.add_argument("--cache", default=common.DEFAULT_CACHE,
                    help="where packages are downloaded and unpacked (default $HARK_PKG_CACHE "
                         "or /work/data/pkgcache)")
    ap.add_argument("--jobs", type=int, default=2, help="parallel conversions")
    ap.add_argument("--asterisk-band", choices=("wide", "narrow"), default="wide",
                    help="Asterisk audio: wide = the G.722 prompts (16 kHz), narrow = the 8 kHz WAVs")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    for src in SOURCES if a.source == "all" else (a.source,):
        mod = __import__(src)
        if src == "asterisk":
            report = mod.run(a.out, a.cache, a.jobs, band=a.asterisk_band)
        else:
            report = mod.run(a.out, a.cache, a.jobs)
        with open(os.path.join(a.out, src + ".report"), "w") as f:
            f.write(report.lstrip("\n") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
