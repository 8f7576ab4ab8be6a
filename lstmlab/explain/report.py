"""write_report: one self-contained HTML file that walks through the unrolled network.

Everything is inside the file (the unrolled picture as inline SVG, the other
pictures as data: URIs, the numbers as JSON, the script): it opens from disk
with no server and fetches nothing. A timestep slider highlights the current
cell in the picture and shows every gate's value, c and h at that step, for
every unit of every LSTM. The page exposes what it shows in the DOM
(`#shown-step`, `data-value` on each number) so a headless browser can check it.
Opening it as `report.html#step=5` starts at step 5 (0-based).
"""
import base64
import html
import io
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .trace import trace
from .unrolled import figure

__all__ = ["write_report"]

KEYS = ("i", "f", "g", "o", "c", "h")
KEY_NAMES = {"i": "i input gate", "f": "f forget gate", "g": "g candidate", "o": "o output gate",
             "c": "c cell state", "h": "h hidden state"}

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.controls { position: sticky; top: 0; background: #fff; padding: .5em 0; z-index: 2; display: flex;
            gap: .8em; align-items: center; border-bottom: 1px solid #eee; }
#step { width: 40%; } #step-label { font-weight: bold; min-width: 9em; }
#picture { overflow-x: auto; } #picture svg { width: 100%; min-width: 1000px; height: auto; }
table.values { border-collapse: collapse; margin: .4em 0 1em; font: 12px ui-monospace, monospace; }
table.values td, table.values th { border: 1px solid #ddd; padding: 2px 5px; text-align: right; }
table.values th { background: #f6f6f6; font-weight: normal; }
.scroll { overflow-x: auto; }
.result table { border-collapse: collapse; font: 12px ui-monospace, monospace; }
.result td, .result th { border-bottom: 1px solid #eee; padding: 2px 8px; text-align: right; }
.result pre { background: #f8f8f8; padding: .6em; overflow-x: auto; font-size: 12px; }
.conclusion { font-weight: bold; color: #1d6b2f; }
img { max-width: 100%; }
.muted { color: #777; }
"""

SCRIPT = """
const D = JSON.parse(document.getElementById('data').textContent);
const slider = document.getElementById('step');
const cells = Array.from(document.querySelectorAll('#picture [id^="cell-"]'));
cells.forEach(g => g.querySelectorAll('path').forEach(p => { p.dataset.fill = p.style.fill; }));

function colour(key, v) {
  const a = Math.min(1, Math.abs(v));
  if (key === 'i' || key === 'f' || key === 'o') return `rgba(31,111,180,${(0.85 * a).toFixed(3)})`;
  return v >= 0 ? `rgba(214,96,77,${(0.85 * a).toFixed(3)})` : `rgba(67,147,195,${(0.85 * a).toFixed(3)})`;
}

function fmt(v) { return (v >= 0 ? '+' : '') + v.toFixed(4); }

function show(t) {
  t = Math.max(0, Math.min(D.T - 1, t | 0));
  slider.value = t;
  document.getElementById('step-label').textContent = `t = ${t + 1} of ${D.T}`;
  document.getElementById('shown-step').textContent = String(t);
  D.layers.forEach((L, l) => {
    document.getElementById(`time-${l}`).textContent = L.go_backwards
      ? `reads element ${L.time[t] + 1} of the sequence (go_backwards: last to first)` : '';
    for (const k of D.keys) {
      L.values[k][t].forEach((v, u) => {
        const td = document.getElementById(`v-${l}-${k}-${u}`);
        td.textContent = fmt(v);
        td.dataset.value = String(v);
        td.style.background = colour(k, v);
      });
    }
  });
  document.getElementById('x-now').textContent = D.x[t].map(fmt).join(', ');
  document.getElementById('y-now').textContent = D.y === null ? '' :
    (D.y[t] === null ? 'none at this step (the head reads the last step only)' : D.y[t].map(fmt).join(', '));
  cells.forEach(g => {
    const on = Number(g.id.split('-')[2]) + D.first === t;
    g.classList.toggle('current', on);
    g.querySelectorAll('path').forEach(p => { p.style.fill = on ? '#ffe9a8' : p.dataset.fill; });
  });
  document.getElementById('outside').textContent = (t < D.first)
    ? `(step ${t + 1} is before the steps drawn: the picture shows steps ${D.first + 1}-${D.T})` : '';
}

slider.addEventListener('input', () => show(Number(slider.value)));
document.getElementById('prev').addEventListener('click', () => show(Number(slider.value) - 1));
document.getElementById('next').addEventListener('click', () => show(Number(slider.value) + 1));
let timer = null;
document.getElementById('play').addEventListener('click', e => {
  if (timer) { clearInterval(timer); timer = null; e.target.textContent = 'play'; return; }
  e.target.textContent = 'stop';
  timer = setInterval(() => show((Number(slider.value) + 1) % D.T), 900);
});
const m = /step=(\\d+)/.exec(location.hash);
show(m ? Number(m[1]) : 0);
"""


def _svg(fig):
    """A figure as an inline <svg> element (no XML prologue, no metadata)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _data_uri(path):
    path = Path(path)
    mime = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
    kind = mime.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"write_report can embed PNG, SVG or JPEG pictures. Received {path.name}.")
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _result_html(r):
    e = html.escape
    out = [f'<div class="result"><h3>{e(r.title)}</h3>']
    if r.table:
        out.append("<table><tr>" + "".join(f"<th>{e(str(h))}</th>" for h in r.table[0]) + "</tr>")
        out += ["<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>" for row in r.table[1:]]
        out.append("</table>")
    if r.lines:
        out.append(f"<pre>{e(chr(10).join(r.lines))}</pre>")
    out.append(f'<p class="conclusion">{e(r.conclusion)}</p></div>')
    return "\n".join(out)


def _values_table(l, L):
    H = L.units
    head = "".join(f"<th>{u}</th>" for u in range(H))
    rows = "".join(
        f'<tr><th>{KEY_NAMES[k]}</th>' + "".join(f'<td id="v-{l}-{k}-{u}"></td>' for u in range(H)) + "</tr>"
        for k in KEYS)
    return (f'<h3>{html.escape(L.name)} <span class="muted" id="time-{l}"></span></h3><div class="scroll">'
            f'<table class="values" id="values-{l}"><tr><th>unit</th>{head}</tr>{rows}</table></div>')


def write_report(model, x, file="report.html", sample=0, results=None, pictures=None, title=None,
                 max_steps=16):
    """Write the HTML report for `model` on x (B, T, D), showing sample `sample`.

    results: Results of the experiments to include; pictures: {caption: PNG/SVG path} to embed.
    The unrolled picture shows the last `max_steps` steps (all of them when T <= max_steps);
    the slider covers every step. Returns the file's path.
    """
    x = np.asarray(x)
    tr = trace(model, x)
    T = x.shape[1]
    shown = min(T, max_steps)
    inside = shown * len(tr) <= 5                                 # the inside of a cell fits: draw it
    fig, _ = figure(model, timesteps=shown, x=x, inside=inside, sample=sample)
    svg = _svg(fig)
    y = np.asarray(tr.output)[sample]
    if y.ndim == 1:                                               # the head reads the last step only
        y_steps = [None] * (T - 1) + [y.tolist()]
    else:
        y_steps = y.tolist()
    data = dict(T=T, first=T - shown, keys=KEYS, x=tr[0].x[sample].tolist(), y=y_steps,
                layers=[dict(name=L.name, go_backwards=L.go_backwards, time=L.time.tolist(),
                             values={k: getattr(L, k)[sample].tolist() for k in KEYS}) for L in tr])
    # JSON inside <script>: "</" must not appear, or the browser ends the script there.
    payload = json.dumps(data).replace("</", "<\\/")
    name = getattr(model, "name", "model")
    title = title or f"lstmlab explain: {name}"
    e = html.escape
    layers = ", ".join(f"{L.name} (LSTM {L.units})" for L in tr)
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(title)}</title>",
        f"<style>{CSS}</style></head><body>", f"<h1>{e(title)}</h1>",
        f"<p>Input x of shape {tuple(x.shape)} (batch, timesteps, features); the numbers are sample {sample}'s, "
        f"read from the arrays the engine keeps for the backward pass. LSTM layers: {e(layers)}. "
        "Steps are numbered from 1; the state before step 1 is the initial state (zeros).</p>",
        "<h2>The unrolled network, step by step</h2>",
        '<div class="controls"><button id="prev">◀</button>'
        f'<input type="range" id="step" min="0" max="{T - 1}" value="0" step="1" aria-label="timestep">'
        '<button id="next">▶</button><button id="play">play</button><span id="step-label"></span>'
        '<span class="muted">shown step index: <span id="shown-step"></span></span></div>',
        f'<div id="picture">{svg}</div><p class="muted" id="outside"></p>',
        '<p>x<sub>t</sub> = <span id="x-now"></span> &nbsp; ŷ<sub>t</sub> = <span id="y-now"></span></p>',
        *(_values_table(l, L) for l, L in enumerate(tr)),
    ]
    if pictures:
        parts.append("<h2>Pictures</h2>")
        for caption, path in pictures.items():
            parts.append(f'<figure><img alt="{e(caption)}" src="{_data_uri(path)}"><figcaption>{e(caption)}'
                         "</figcaption></figure>")
    if results:
        parts.append("<h2>Experiments</h2>")
        parts += [_result_html(r) for r in results]
    parts += [f'<script type="application/json" id="data">{payload}</script>', f"<script>{SCRIPT}</script>",
              "</body></html>"]
    Path(file).write_text("\n".join(parts), encoding="utf-8")
    return str(file)
