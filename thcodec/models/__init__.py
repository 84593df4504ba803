"""The networks, one file per role (first-order motion model boxes)."""
