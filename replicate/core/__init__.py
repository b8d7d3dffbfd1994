"""Layer 0, core: configuration (Hydra composition and validation), atomic I/O and the stage cache,
provenance, and the repository's paths. Imports nothing else from ``replicate``."""
