"""API views: each validates, resolves the token's scope, calls one service or selector
and formats its result."""
