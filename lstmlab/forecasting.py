"""Closed-loop forecasting: each prediction is fed back as the next input.

Two models of the past, named for what they do:

- mode="window": every step shows the model the last `look_back` values, as
  it was trained on windows (the seed question's loop). O(look_back) per step.
- mode="state": the history runs through the LSTM once; after that each step
  is one timestep carrying h and c. O(1) per step. Right for models trained
  on whole sequences or statefully; for a window-trained model it is a
  different model of the past, and gives different numbers.
"""
import numpy as np

__all__ = ["forecast"]


def _history(history):
    try:
        h = np.asarray(history, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("forecast: history must be numbers (a 1-D series or a (T, F) array).") from None
    if h.ndim not in (1, 2) or len(h) == 0:
        raise ValueError(
            f"forecast: history must be a non-empty series (T,) or (T, features). Received shape {h.shape}."
        )
    if not np.isfinite(h).all():
        raise ValueError("forecast: history contains NaN or inf; fill or drop those values first.")
    return h[:, None] if h.ndim == 1 else h, h.ndim == 1


def _shapes(model, F):
    """The model's (timesteps, features) input and its output width, checked against F."""
    shape = model.batch_input_shape or model._build_input_shape
    if shape is None or len(shape) != 3:
        raise ValueError(
            "forecast needs a model with a known input shape (batch, timesteps, features): "
            "give its first layer input_shape=..., or fit/predict it once."
        )
    out = model.compute_output_shape(shape)
    width = out[-1]
    if width != F:
        raise ValueError(
            f"forecast feeds each prediction back as the next input, so the model's output must "
            f"have as many values as one timestep of the series: {F}. This model outputs {width} "
            f"per step (shape {tuple(out)}). Forecast a model whose last layer is Dense({F})."
        )
    return shape[1], shape[2], len(out) == 3


def forecast(model, history, steps, mode="window", look_back=None):
    """Predict `steps` values past the end of `history`, feeding each prediction back.

    history (T,) or (T, F) in the units the model was trained on (scaled, if
    it was). Returns (steps,) for a 1-D history, else (steps, F).
    """
    if mode not in ("window", "state"):
        raise ValueError(f"forecast mode must be 'window' or 'state'. Received: {mode!r}.")
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer. Received: {steps!r}.")
    hist, flat = _history(history)
    T, F = hist.shape
    timesteps, features, sequence_out = _shapes(model, F)
    dtype = model.layers[0].dtype
    preds = np.empty((steps, F), dtype)
    if mode == "window":
        if features == F:                              # the window along time: (1, look_back, F)
            look_back = look_back or timesteps
            layout = lambda w: w.reshape(1, look_back, F)   # noqa: E731
        elif timesteps == 1 and features % F == 0:     # the window as features: (1, 1, look_back*F)
            look_back = look_back or features // F
            layout = lambda w: w.reshape(1, 1, look_back * F)  # noqa: E731
        else:
            raise ValueError(
                f"The model takes (timesteps, features) = ({timesteps}, {features}) per sample; a "
                f"series with {F} value(s) per step fits neither as timesteps nor as features."
            )
        if look_back is None:
            raise ValueError("The model's timesteps are not fixed: pass look_back=...")
        if T < look_back:
            raise ValueError(
                f"forecast needs at least look_back={look_back} values of history. Received {T}."
            )
        window = hist[-look_back:].astype(dtype)
        for k in range(steps):
            y = model.predict(layout(window), verbose=0)
            preds[k] = y[0, -1] if sequence_out else y[0]
            window = np.concatenate([window[1:], preds[k:k + 1]])
    else:
        if features != F:
            raise ValueError(
                f"mode='state' feeds one timestep of {F} value(s) per step, but the model takes "
                f"{features} features per timestep. Use mode='window' for a window-as-features model."
            )
        stream = model.stream(batch_size=1)
        out = stream.feed(hist[None].astype(dtype))
        preds[0] = out[0, -1]
        for k in range(1, steps):
            preds[k] = stream.step(preds[k - 1][None])[0]
    return preds[:, 0] if flat else preds
