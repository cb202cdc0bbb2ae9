"""Token counting: exact OpenAI BPE counts offline, calibrated estimates for other vendors.

Importing this package is cheap: nothing here loads a BPE until an exact count is needed.
"""
