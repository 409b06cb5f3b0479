"""gradtui: watch the gradient flow through a neural network as it trains, in the terminal."""

__version__ = "0.1.0"
