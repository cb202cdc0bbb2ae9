"""The one internal shape every wire protocol translates to and from."""
