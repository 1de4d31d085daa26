"""Point-tracker backends behind one interface (Lucas-Kanade, CoTracker, simulator oracle)."""
