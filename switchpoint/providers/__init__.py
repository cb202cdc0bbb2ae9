"""Provider adapters: one module per vendor wire protocol, behind one interface.

An adapter owns everything vendor-specific: URLs, authentication, API versions, request
and response translation, and classifying the vendor's errors. Nothing above this layer
knows which vendor it is talking to.
"""
