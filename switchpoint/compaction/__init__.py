"""The context on the request path: counting a request before routing (`measure`,
`assessment`), planning and running `summarization_strategy: hierarchical` through the
gateway's own executor (`planning`, `compactor`, `summarizer`), where summaries are kept
(`summary_caches`), what a provider's context-length error says (`overflow`), and
calibration from billed usage (`calibration_listener`). See docs/context.md.
"""
