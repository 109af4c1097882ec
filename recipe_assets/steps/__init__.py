"""The recipe's steps: one subpackage per step (config.py, assets.py, card.py, spec.py); registry.py lists them
in order, and the recipe's `steps:` keys, the asset graph and the step lists come from it."""
