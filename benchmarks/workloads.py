"""W1-W6: for each workload, the rows to time (lstmlab and each peer) and its targets.

Each `wN(plan)` returns (cases, targets). The lstmlab side lives in
`side_lstmlab.py`, the peers in `peers_torch.py` and `peers_keras.py`; the
data every side gets in `data.py`.
"""
from dataclasses import dataclass, field

from . import data, flops
from .cases import Case
from .targets import Target

CHARS_TIMED, CHARS_REPORTED = 200, 1000     # W5 times 200 characters and scales to 1000
WINDOW = 100                                # W5's sliding window (side_lstmlab.WINDOW)


@dataclass
class Plan:
    quick: bool = False
    peers: set = field(default_factory=lambda: {"torch", "keras"})
    tensorflow: bool = False     # tf.keras in a subprocess, only when already installed
    w3_steps: int = 1000         # steps per sample in W3
    w4_units: tuple = (64, 256, 512)
    w5_chars: int = CHARS_TIMED
    stream: bool = False         # lstmlab has Sequential.stream: its rows are timed too
    matmul_n: int = 2048         # the n x n float32 product whose rate W4's share is held against

    def reps(self, full, quick):
        return quick if self.quick else full

    def want(self, side):
        return side in self.peers


def _lab():
    """lstmlab's side, imported only where its rows are built: a peer's process never loads
    lstmlab (its import changes process-wide settings, e.g. glibc's malloc thresholds)."""
    from . import side_lstmlab
    return side_lstmlab


def _torch():
    from . import peers_torch
    return peers_torch


def _keras():
    from . import peers_keras
    return peers_keras


# -- W1 the seed program --------------------------------------------------------------------
def w1(plan):
    X, y = data.seed_data()
    cfg = "seed program: LSTM(10)+Dense(1), fit 300 epochs + predict"
    cases = [Case("W1", cfg, "lstmlab", "Sequential fit + predict", lambda: _lab().seed_program(X, y),
                  id="lstmlab", primary=True, repeats=plan.reps(7, 3), number=1,
                  unit="per program")]
    if plan.want("torch"):
        cases.append(Case("W1", cfg, "torch", "nn.LSTM+nn.Linear+Adam loop, 300 steps + no_grad",
                          lambda: _torch().seed_program(X, y), id="torch",
                          repeats=plan.reps(5, 2), number=1, unit="per program"))
    if plan.want("keras"):
        cases.append(Case("W1", cfg, "keras", "Keras 3 (torch backend) fit + predict",
                          lambda: _keras().seed_program(X, y), id="keras",
                          repeats=plan.reps(3, 1), warmup=0, number=1, unit="per program"))
    if plan.tensorflow:
        cases.append(Case("W1", cfg, "tf.keras", "Keras 3 (tensorflow backend), own process",
                          None, id="tf.keras", unit="per program",
                          timer=lambda: _keras().in_subprocess("tensorflow", "W1", plan.reps(3, 1))))
    targets = [Target("W1", cfg, "≥ 20× PyTorch", "ratio", 20.0, peer="torch"),
               Target("W1", cfg, "≥ 300× Keras 3", "ratio", 300.0, peer="keras")]
    return cases, targets


# -- W2 one predict call ------------------------------------------------------------------------
def w2(plan):
    X, _ = data.seed_data()
    cfg = "seed model, predict on a batch of 5"
    r = plan.reps(15, 5)
    cases = [Case("W2", cfg, "lstmlab", "model.predict(X, verbose=0)", lambda: _lab().seed_predict(X),
                  id="lstmlab", primary=True, repeats=r),
             Case("W2", cfg, "lstmlab", "model(X)", lambda: _lab().seed_call(X),
                  id="lstmlab.call", repeats=r)]
    if plan.want("keras"):
        cases += [Case("W2", cfg, "keras", "Keras 3 model.predict(X, verbose=0)",
                       lambda: _keras().seed_predict(X), id="keras.predict", repeats=plan.reps(7, 3)),
                  Case("W2", cfg, "keras", "Keras 3 model(X) (reference)",
                       lambda: _keras().seed_call(X), id="keras.call", repeats=r)]
    if plan.want("torch"):
        cases.append(Case("W2", cfg, "torch", "nn.LSTM+nn.Linear under no_grad (reference)",
                          lambda: _torch().seed_forward(X), id="torch", repeats=r))
    targets = [Target("W2", cfg, "≤ 50 µs per predict", "time", 50e-6)]
    return cases, targets


# -- W3 streaming, one timestep per call ------------------------------------------------------------
W3_SIZES = ((1, 10), (64, 64), (64, 256))


def w3(plan):
    cases, targets = [], []
    n = plan.w3_steps
    for D, H in W3_SIZES:
        cfg = f"batch 1, D={D}, H={H}"
        W, U, b = data.lstm_weights(D, H)
        x, h, c = data.step_input(D, H)
        common = dict(repeats=plan.reps(15, 3), number=1, scale=1.0 / n, unit="per step")
        # The issue measures the public streaming API; the kernel's step stands in without it.
        if plan.stream:
            cases.append(Case("W3", cfg, "lstmlab", "Sequential([LSTM]).stream(1).step",
                              lambda D=D, H=H, x=x: _lab().stream_steps(D, H, x, n),
                              id="lstmlab.stream", primary=True, **common))
        cases.append(Case("W3", cfg, "lstmlab", "engine.step" + (" (reference)" if plan.stream else ""),
                          lambda W=W, U=U, b=b, x=x, h=h, c=c: _lab().engine_steps(W, U, b, x, h, c, n),
                          id="lstmlab.engine" if plan.stream else "lstmlab", primary=not plan.stream,
                          **common))
        if plan.want("torch"):
            cases.append(Case("W3", cfg, "torch", "nn.LSTMCell under no_grad",
                              lambda D=D, H=H, x=x: _torch().cell_steps(D, H, x, n),
                              id="torch", **common))
        if H == 10:
            targets.append(Target("W3", cfg, "≥ 6× PyTorch", "ratio", 6.0, peer="torch"))
        if H == 256:
            targets.append(Target("W3", cfg, "≥ 2× PyTorch", "ratio", 2.0, peer="torch"))
    return cases, targets


# -- W4 a character model's training step -------------------------------------------------------
W4_B, W4_T, W4_V = 64, 100, 60


def w4(plan):
    cases, targets = [], []
    B, T, V = W4_B, W4_T, W4_V
    x, labels, y = data.one_hot_batch(B, T, V)
    for H in plan.w4_units:
        cfg = f"B={B}, T={T}, one-hot V={V}, LSTM({H})"
        fl = flops.lstm_train_flops(B, T, V, H, V)
        reps = plan.reps(9 if H < 512 else 7, 3)
        cases.append(Case("W4", cfg, "lstmlab", "model.train_on_batch",
                          lambda H=H: _lab().train_step(_lab().char_model(T, V, H), x, y),
                          id="lstmlab", primary=True, repeats=reps, number=1, primed=True, flops=fl,
                          unit="per step"))
        if plan.want("torch"):
            cases.append(Case("W4", cfg, "torch", "nn.LSTM+nn.Linear+cross_entropy+Adam",
                              lambda H=H: _torch().train_step(x, labels, V, H),
                              id="torch", repeats=reps, number=1, primed=True, flops=fl,
                              unit="per step"))
        if H == 256:
            # The rate the share is held against, sampled in turns with the rows it judges.
            n = plan.matmul_n
            cases.append(Case("W4", cfg, "numpy", f"np.matmul {n}×{n} @ {n}×{n} (the rate, in turns)",
                              lambda n=n: flops.matmul_case(n), id="numpy.matmul", repeats=reps,
                              number=1, primed=True, flops=flops.matmul_flops(n), unit="per product"))
            targets += [Target("W4", cfg, "≥ 1.25× PyTorch", "ratio", 1.25, peer="torch"),
                        Target("W4", cfg, "≥ 65% of the float32 matmul rate", "rate", 0.65)]
        if H == 64:
            targets.append(Target("W4", cfg, "≥ 3× PyTorch", "ratio", 3.0, peer="torch"))
    return cases, targets


# -- W5 generating text --------------------------------------------------------------------------------
W5_V, W5_H = 60, 256


def w5(plan):
    V, H, n = W5_V, W5_H, plan.w5_chars
    seed = data.seed_text(WINDOW, V)
    scale = CHARS_REPORTED / n
    unit = f"per {CHARS_REPORTED} chars ({n} timed × {scale:g})"
    common = dict(repeats=plan.reps(5, 2), number=1, scale=scale, unit=unit)
    # A stateful sample lasts 4-40 ms, a window one 0.3-0.6 s: more samples for the same weight
    # against a moment of noise.
    short = dict(common, repeats=plan.reps(21, 3))
    model = {}

    def lab_model():
        if "m" not in model:
            model["m"] = _lab().char_model(WINDOW, V, H)
        return model["m"]

    torch_model = {}

    def torch_model_():
        if "m" not in torch_model:
            torch_model["m"] = _torch().CharModel(V, H)
        return torch_model["m"]

    win = "window of 100, LSTM(256), V=60"
    sf = "stateful, one step per char, LSTM(256), V=60"
    cases = [Case("W5", win, "lstmlab", "model.predict on the window",
                  lambda: _lab().window_generate(lab_model(), seed, V, n), id="lstmlab",
                  primary=True, **common),
             Case("W5", win, "lstmlab", "model(x) on the window",
                  lambda: _lab().window_generate(lab_model(), seed, V, n, use_call=True),
                  id="lstmlab.call", **common),
             Case("W5", win, "lstmlab", "generate_text(mode='window')'s windows in flight",
                  lambda: _lab().windows_in_flight(lab_model(), seed, V, n),
                  id="lstmlab.inflight", judged=True, **common)]
    if plan.want("torch"):
        cases.append(Case("W5", win, "torch", "nn.LSTM over the window, no_grad",
                          lambda: torch_model_().window_generate(seed, n), id="torch", **common))
    # As in W3: the public streaming API when there is one, the kernel's step otherwise.
    if plan.stream:
        cases.append(Case("W5", sf, "lstmlab", "model.stream(1).step",
                          lambda: _lab().stream_generate(lab_model(), seed, V, n),
                          id="lstmlab.stream", primary=True, **short))
    cases.append(Case("W5", sf, "lstmlab",
                      "engine.step + NumPy Dense head" + (" (reference)" if plan.stream else ""),
                      lambda: _lab().stateful_generate(lab_model(), seed, V, n),
                      id="lstmlab.engine" if plan.stream else "lstmlab", primary=not plan.stream, **short))
    cases.append(Case("W5", sf, "lstmlab", "generate_text(mode='state')'s compiled loop",
                      lambda: _lab().compiled_generate(lab_model(), seed, V, n),
                      id="lstmlab.loop", judged=True, **short))
    if plan.want("torch"):
        cases.append(Case("W5", sf, "torch", "nn.LSTMCell step + nn.Linear, no_grad",
                          lambda: torch_model_().stateful_generate(seed, n), id="torch", **short))
    targets = [Target("W5", sf, "≥ 5× PyTorch (stateful)", "ratio", 5.0, peer="torch"),
               Target("W5", win, "faster than PyTorch (window)", "ratio", 1.0, peer="torch")]
    return cases, targets


# -- W6 the text-generation tutorial's training step ---------------------------------------------------
W6_B, W6_T, W6_V, W6_H = 128, 100, 47, 256


def w6(plan):
    B, T, V, H = W6_B, W6_T, W6_V, W6_H
    x, labels, y = data.scaled_batch(B, T, V)
    cfg = f"tutorial: (100, 1) -> LSTM(256) -> Dropout(0.2) -> Dense(47), batch {B}"
    fl = flops.lstm_train_flops(B, T, 1, H, V)
    common = dict(repeats=plan.reps(9, 3), number=1, primed=True, flops=fl, unit="per step")
    cases = [Case("W6", cfg, "lstmlab", "model.train_on_batch",
                  lambda: _lab().train_step(_lab().tutorial_model(T, V, H), x, y), id="lstmlab",
                  primary=True, **common)]
    if plan.want("torch"):
        cases.append(Case("W6", cfg, "torch", "nn.LSTM+Dropout+nn.Linear+cross_entropy+Adam",
                          lambda: _torch().train_step(x, labels, V, H, dropout=0.2),
                          id="torch", **common))
    if plan.want("keras"):
        cases.append(Case("W6", cfg, "keras", "Keras 3 (torch backend) train_on_batch (reference)",
                          lambda: _keras().train_step(x, y, H, dropout=0.2), id="keras",
                          **dict(common, repeats=plan.reps(5, 2))))
    if plan.tensorflow:
        cases.append(Case("W6", cfg, "tf.keras", "Keras 3 (tensorflow backend), own process",
                          None, id="tf.keras", flops=fl, unit="per step",
                          timer=lambda: _keras().in_subprocess("tensorflow", "W6", plan.reps(9, 3))))
    targets = [Target("W6", cfg, "faster than PyTorch", "ratio", 1.0, peer="torch")]
    return cases, targets


WORKLOADS = {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5, "W6": w6}

TITLES = {
    "W1": "the seed program (fit 300 epochs + predict)",
    "W2": "one predict call on the seed model",
    "W3": "streaming: batch 1, one timestep per call",
    "W4": "a character model's training step (forward, backward, Adam)",
    "W5": "generating text with LSTM(256), V=60",
    "W6": "the text-generation tutorial's training step",
}
