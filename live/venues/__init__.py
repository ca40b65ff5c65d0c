"""Venues behind one protocol: paper today; ccxt, EVM and Solana implement the same interface."""

from live.venues.base import SimulatedVenue, TransientVenueError, Venue, VenueError

__all__ = ["SimulatedVenue", "TransientVenueError", "Venue", "VenueError"]
