"""Training backends (SB3, RLlib, TRL). They import the core; the core never imports them."""
