"""monkeys-swe: repeated sampling with automatic verification."""
