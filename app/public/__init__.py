"""The public, read-only side of Tepat: progress, item journeys with proofs, the signed log."""
