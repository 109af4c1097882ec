"""The core every layer may use and that uses no other: errors, keys and tag names, the config-model base,
versions and hashes, loading the recipe's own step code, one atomic write, one value unwrapping, metric definitions."""
