"""Generation backends, one module each, registered by name in monkeys_swe.registry."""
