"""Peer tools run on the same warehouse as our checks, their answers compared with ours."""
