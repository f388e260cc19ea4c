"""Evaluating world models: autoregressive N-step error, gate and latent analysis, plots."""
