"""`model.summary()`: Keras's table, plus what Keras hides about recurrent layers.

Beside Keras's columns (layer, output shape, parameters) and totals, each
LSTM gets its state shapes and its parameter count derived term by term, and
one line says what `units` means.
"""
import io

from rich.console import Console
from rich.table import Table


def _shape(shape):
    if isinstance(shape, list):
        return ", ".join(_shape(s) for s in shape)
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def _bytes(n_params, itemsize=4):
    size = n_params * itemsize
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024


def print_summary(model, print_fn=None):
    shape = model.batch_input_shape
    table = Table(title=f'Model: "{model.name}"', title_justify="left", show_lines=False)
    table.add_column("Layer (type)", no_wrap=True)
    table.add_column("Output Shape")
    table.add_column("Param #", justify="right")
    notes = []
    for layer in model.layers:
        if shape is not None:
            shape = layer.compute_output_shape(shape)
        built = layer.built
        table.add_row(f"{layer.name} ({type(layer).__name__})",
                      "?" if shape is None else _shape(shape),
                      f"{layer.count_params():,}" if built else "0 (unbuilt)")
        if hasattr(layer, "recurrent_kernel") and layer.built:
            D, H = layer.kernel.shape[0], layer.units
            B = "None" if model.batch_input_shape is None else str(model.batch_input_shape[0])
            bias = " + 1" if layer.use_bias else ""
            notes.append(
                f"{layer.name}: state h ({B}, {H}) and c ({B}, {H}); "
                f"params = 4 gates x {H} units x ({D} inputs + {H} recurrent{bias}) = {layer.count_params():,}"
            )
    total = model.count_params()
    trainable = sum(w.size for w in model.trainable_weights)
    buffer = io.StringIO() if print_fn is not None else None
    console = Console(file=buffer, width=100)
    console.print(table)
    console.print(f" Total params: {total:,} ({_bytes(total)})")
    console.print(f" Trainable params: {trainable:,} ({_bytes(trainable)})")
    console.print(f" Non-trainable params: {total - trainable:,} ({_bytes(total - trainable)})")
    for note in notes:
        console.print(" " + note, highlight=False, soft_wrap=True)
    if notes:
        console.print(" units = the size of h, of c and of each gate; without return_sequences "
                      "it is also the layer's output size.", highlight=False, soft_wrap=True)
    if print_fn is not None:
        for line in buffer.getvalue().splitlines():
            print_fn(line)
