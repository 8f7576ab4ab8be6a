"""Keras's per-epoch progress line: `Epoch 3/100`, then `5/5 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - loss: 0.0123`."""
import sys
import time

WIDTH = 20


def _format_logs(logs):
    return "".join(f" - {k}: {v:.4f}" for k, v in logs.items())


class ProgressBar:
    """verbose=0 silent; 1 a bar redrawn per batch (on a terminal) and closed per epoch; 2 one line per epoch."""

    def __init__(self, steps, epoch, epochs, verbose, stream=None):
        self.steps, self.verbose = steps, verbose
        self.stream = stream or sys.stdout
        self.live = verbose == 1 and getattr(self.stream, "isatty", lambda: False)()
        self.start = time.perf_counter()
        self.done = 0
        if verbose and epoch is not None:
            self.stream.write(f"Epoch {epoch + 1}/{epochs}\n")

    def _line(self, step, logs):
        elapsed = time.perf_counter() - self.start
        per_step = elapsed / max(step, 1)
        unit = f"{per_step * 1e3:.0f}ms/step" if per_step >= 1e-3 else f"{per_step * 1e6:.0f}us/step"
        filled = WIDTH * step // max(self.steps, 1)
        bar = "━" * filled + (" " * (WIDTH - filled) if self.verbose == 1 else "")
        width = len(str(self.steps))
        return f"{step:>{width}}/{self.steps} {bar} {elapsed:.0f}s {unit}{_format_logs(logs)}"

    def update(self, step, logs):
        self.done = step
        if self.live:
            self.stream.write("\r" + self._line(step, logs))
            self.stream.flush()

    def finish(self, logs):
        if self.verbose:
            self.stream.write(("\r" if self.live else "") + self._line(self.done, logs) + "\n")
            self.stream.flush()
