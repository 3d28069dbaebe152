"""The Deep Image Prior pieces: the encoder-decoder network, its inputs, the losses and the one
optimisation loop that every coupled system runs."""
