"""Message declarations and their edge: catalogue (every kapi message), validation (compiled
schemas), etf (Erlang terms for action.result), spec (declaration types), errors."""
