"""The PyTorch side: hand-written loops, as someone writing PyTorch directly would.

float32 throughout; Adam with Keras's defaults (lr 1e-3, eps 1e-7); the loss
read back with `.item()` every step, as Keras's and lstmlab's training loops
read theirs. Inference runs under `torch.no_grad()`.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

WINDOW = 100


def _adam(*modules):
    params = [p for m in modules for p in m.parameters()]
    return torch.optim.Adam(params, lr=1e-3, eps=1e-7)


# -- W1, W2 -------------------------------------------------------------------------------
def seed_program(X, y, epochs=300):
    """nn.LSTM + nn.Linear + Adam: `epochs` steps on the one batch of 5, then a no_grad predict."""
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y.reshape(-1, 1))

    def run():
        lstm, head = nn.LSTM(1, 10, batch_first=True), nn.Linear(10, 1)
        opt = _adam(lstm, head)
        for _ in range(epochs):
            out, _ = lstm(Xt)
            loss = F.mse_loss(head(out[:, -1]), yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()
        with torch.no_grad():
            out, _ = lstm(Xt)
            return head(out[:, -1]).numpy()
    return run


def seed_forward(X):
    """The seed model called under no_grad, NumPy in and out."""
    lstm, head = nn.LSTM(1, 10, batch_first=True), nn.Linear(10, 1)

    def run():
        with torch.no_grad():
            out, _ = lstm(torch.from_numpy(X))
            return head(out[:, -1]).numpy()
    return run


# -- W3 ---------------------------------------------------------------------------------------
def cell_steps(D, H, x, steps):
    """`steps` calls of nn.LSTMCell under no_grad, carrying (h, c)."""
    cell = nn.LSTMCell(D, H)
    xt = torch.from_numpy(x)
    h0, c0 = torch.zeros(1, H), torch.zeros(1, H)

    def run():
        with torch.no_grad():
            h, c = h0, c0
            for _ in range(steps):
                h, c = cell(xt, (h, c))
        return h
    return run


# -- W4, W6 -----------------------------------------------------------------------------------
def _train_step(x, labels, D, H, V, dropout):
    lstm, head = nn.LSTM(D, H, batch_first=True), nn.Linear(H, V)
    drop = nn.Dropout(dropout) if dropout else nn.Identity()
    for m in (lstm, head, drop):
        m.train()
    opt = _adam(lstm, head)
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)

    def run():
        opt.zero_grad()
        out, _ = lstm(xt)
        loss = F.cross_entropy(head(drop(out[:, -1])), yt)
        loss.backward()
        opt.step()
        return loss.item()
    return run


def train_step(x, labels, V, H, dropout=None):
    return _train_step(x, labels, x.shape[2], H, V, dropout)


# -- W5 -----------------------------------------------------------------------------------------
class CharModel:
    """nn.LSTM(V, H) + nn.Linear(H, V), and an nn.LSTMCell sharing the LSTM's weights."""

    def __init__(self, V, H):
        self.V = V
        self.lstm, self.head = nn.LSTM(V, H, batch_first=True), nn.Linear(H, V)
        self.cell = nn.LSTMCell(V, H)
        with torch.no_grad():
            self.cell.weight_ih.copy_(self.lstm.weight_ih_l0)
            self.cell.weight_hh.copy_(self.lstm.weight_hh_l0)
            self.cell.bias_ih.copy_(self.lstm.bias_ih_l0)
            self.cell.bias_hh.copy_(self.lstm.bias_hh_l0)
        for m in (self.lstm, self.head, self.cell):
            m.eval()
        self.eye = np.eye(V, dtype=np.float32)

    def window_generate(self, seed, n):
        """n characters, each from nn.LSTM over the last WINDOW one-hot characters."""
        def run():
            text = list(seed)
            with torch.no_grad():
                for _ in range(n):
                    x = torch.from_numpy(self.eye[text[-WINDOW:]][None])
                    out, _ = self.lstm(x)
                    p = torch.softmax(self.head(out[:, -1]), dim=-1)
                    text.append(int(p.argmax()))
            return text
        return run

    def stateful_generate(self, seed, n):
        """n characters, one nn.LSTMCell step per character carrying (h, c).

        The state after the seed is computed once (nn.LSTM over it), outside the timed loop.
        """
        with torch.no_grad():
            _, (h0, c0) = self.lstm(torch.from_numpy(self.eye[seed][None]))
        h0, c0 = h0[0], c0[0]

        def run():
            h, c, ch = h0, c0, seed[-1]
            out = []
            with torch.no_grad():
                for _ in range(n):
                    h, c = self.cell(torch.from_numpy(self.eye[ch:ch + 1]), (h, c))
                    p = torch.softmax(self.head(h), dim=-1)
                    ch = int(p.argmax())
                    out.append(ch)
            return out
        return run
