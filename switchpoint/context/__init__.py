"""Context compression, the pure half: plan, prompts, assembly, cache, and the driver that
runs them with a summarizer the executor provides (`summarization_strategy: hierarchical`).
"""
