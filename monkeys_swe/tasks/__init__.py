"""Task adapters: one module per domain, registered by name in monkeys_swe.registry."""
