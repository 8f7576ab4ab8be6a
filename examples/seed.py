"""The program from the question "does Keras's LSTM really use the cell state and
the previous output?", with only its imports changed from Keras to lstmlab.

get_train() is the one from the tutorial the question quotes: five pairs
x -> y (0.0 -> 0.1, ..., 0.4 -> 0.5), X shaped (samples, timesteps, features)
= (5, 1, 1).
"""
from numpy import array

from lstmlab.layers import LSTM, Dense
from lstmlab.models import Sequential


def get_train():
    seq = [[0.0, 0.1], [0.1, 0.2], [0.2, 0.3], [0.3, 0.4], [0.4, 0.5]]
    seq = array(seq)
    X, y = seq[:, 0], seq[:, 1]
    X = X.reshape((len(X), 1, 1))
    return X, y


# -- the program, as written for Keras --------------------------------------------
model = Sequential()
model.add(LSTM(10, input_shape=(1,1)))
model.add(Dense(1, activation='linear'))
model.compile(loss='mse', optimizer='adam')
X,y = get_train()
model.fit(X, y, epochs=300, shuffle=False, verbose=0)
model.predict(X, verbose=0)

# -- what it computed ---------------------------------------------------------------
if __name__ == "__main__":
    model.summary()
    print("loss after 300 epochs:", model.history.history["loss"][-1])
    for x_i, y_i, p_i in zip(X[:, 0, 0], y, model.predict(X, verbose=0)[:, 0]):
        print(f"x={x_i:.1f}  target={y_i:.1f}  predicted={p_i:.4f}")
