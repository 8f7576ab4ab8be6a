"""Data sets shipped with lstmlab, byte for byte as published, for the demo and the examples.

- airline-passengers.csv: international airline passengers, monthly totals in
  thousands, 1949-01..1960-12 (Box & Jenkins 1976, via jbrownlee/Datasets).
- wonderland.txt: Alice's Adventures in Wonderland (Project Gutenberg #11, public
  domain), the text of the classic Keras text-generation tutorial.
"""
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def path(name):
    """The file of a shipped data set: 'airline-passengers.csv' or 'wonderland.txt'."""
    p = HERE / name
    if not p.exists():
        names = sorted(f.name for f in HERE.iterdir() if f.suffix in (".csv", ".txt"))
        raise FileNotFoundError(f"No shipped data set {name!r}. Expected one of: {', '.join(names)}.")
    return p


def airline_passengers():
    """(months (144,) as 'YYYY-MM' strings, passengers (144,) float32, in thousands)."""
    rows = path("airline-passengers.csv").read_text().splitlines()[1:]
    months = [r.split(",")[0].strip('"') for r in rows]
    values = np.array([float(r.split(",")[1]) for r in rows], dtype=np.float32)
    return months, values


def wonderland():
    """The text of Alice in Wonderland, with its CRLF line endings read as '\\n'."""
    return path("wonderland.txt").read_text(encoding="ascii")
