"""Custom steps (ours): `custom_steps:` in recipe.yaml names functions in the recipe's steps/ that become
assets of the recipe. The contract is in config.py; what a returned value becomes, in card.py."""
