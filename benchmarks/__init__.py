"""Performance suite: each benchmark times Drydock against a peer in the same process."""
