"""Token counting: exact OpenAI BPE counts offline, calibrated estimates for other vendors.

Public API (see docs/tokens.md):

* `counter.TokenCounter` - `count`, `count_async`, `prepare` (-> `PreparedRequest`),
  `count_conversation`, `count_tally`; returns `counter.TokenCount`.
* `calibration.Calibrator` - learns billed/predicted per (provider, model).
* `sizing.ConversationSizer` - per-message sizes for compression planning.
* `bpe.warm` - load the BPE files ahead of need; `bpe.count` - exact count of a text.
* `tokenizers.tokenizer_for` - which tokenizer a model bills with.

Importing this package is cheap: nothing here loads a BPE until an exact count is needed.
"""
