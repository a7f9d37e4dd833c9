"""The lead: its typed profile, its lifecycle, its ids, the events it emits, and the one way it changes."""
