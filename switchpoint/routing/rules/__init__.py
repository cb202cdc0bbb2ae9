"""One module per routing rule, named as the rule appears in a decision's `rules`."""
