"""The behavioural suite: what every vendor set must do through the graph (sets.py)."""
