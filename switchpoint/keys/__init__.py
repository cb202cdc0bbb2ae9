"""Virtual keys: issued by switchpoint, stored only as hashes, each tied to a team and
optionally a budget. `key_format.py` makes and recognises them, `keyring.py` holds the
loaded ones in memory, `access.py` decides who may do what."""
