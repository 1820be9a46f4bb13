"""Spare parts and device logistics: the catalogue, stock and replenishment, courier lanes, the
三包 rules at intake, stock sizing, and the parts' part in the simulation.

A dataset without parts (``Dataset.parts is None``) runs exactly as before: every hook here is
then a no-op. ``with_parts`` switches them on with the documented defaults."""
