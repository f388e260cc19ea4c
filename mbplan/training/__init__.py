"""Training world models: teacher forcing, scheduled sampling, runs on disk, checkpoints, resume."""
