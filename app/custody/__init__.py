"""Chain of custody: pure rules, Merkle log and their errors."""
