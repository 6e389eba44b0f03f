"""Speech denoising benchmark: sigdenoise against peers on held-out mixtures."""
