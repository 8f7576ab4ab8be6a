"""The inputs every side gets: the same arrays, float32, made once per workload."""
import numpy as np

SEED = 0


def seed_data():
    """The seed program's data: X (5, 1, 1) = 0.0 .. 0.4, y = X + 0.1 (shape (5,), as Keras takes it)."""
    X = np.array([0.0, 0.1, 0.2, 0.3, 0.4], np.float32).reshape(5, 1, 1)
    y = X[:, 0, 0] + np.float32(0.1)
    return X, y


def one_hot_batch(B, T, V, seed=SEED):
    """A character batch: x (B, T, V) one-hot, next-character labels (B,) and their one-hot (B, V)."""
    rng = np.random.default_rng(seed)
    eye = np.eye(V, dtype=np.float32)
    chars = rng.integers(0, V, size=(B, T))
    labels = rng.integers(0, V, size=B)
    return np.ascontiguousarray(eye[chars]), labels.astype(np.int64), eye[labels]


def scaled_batch(B, T, V, seed=SEED):
    """The tutorial's batch: x (B, T, 1) = character index / V, labels (B,), one-hot (B, V)."""
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, V, size=(B, T, 1)) / V).astype(np.float32)
    labels = rng.integers(0, V, size=B)
    return x, labels.astype(np.int64), np.eye(V, dtype=np.float32)[labels]


def seed_text(n, V, seed=SEED):
    """n character indices to start generation from."""
    return [int(c) for c in np.random.default_rng(seed).integers(0, V, size=n)]


def step_input(D, H, seed=SEED):
    """One timestep for a batch of 1: x_t (1, D) and zero h, c (1, H)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, D)).astype(np.float32)
    return x, np.zeros((1, H), np.float32), np.zeros((1, H), np.float32)


def lstm_weights(D, H, seed=SEED):
    """Keras-layout weights W (D, 4H), U (H, 4H), b (4H,): small, so the gates stay unsaturated."""
    rng = np.random.default_rng(seed)
    W = (rng.standard_normal((D, 4 * H)) / np.sqrt(D)).astype(np.float32)
    U = (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(np.float32)
    b = np.zeros(4 * H, np.float32)
    return W, U, b
