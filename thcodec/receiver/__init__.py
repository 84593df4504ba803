"""The receiver: .thc -> frames (segments rendered from pivots and key points)."""
