"""Wire codecs: pure translation between each vendor's JSON and the internal shape.

Used in both directions: by ingress (decoding what clients send, encoding what they
receive) and by provider adapters (encoding what vendors receive, decoding their answers).
No I/O here.
"""
