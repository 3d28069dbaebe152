"""The classical pieces, apart from the Deep Image Priors (`net/`): haze physics and the dark channel
prior, the guided filter, graph cuts and GrabCut, colour models, texture statistics and the hints'
geometry. A run with `--dip=false` uses these alone."""
