"""One router per resource: free places, proposals, reservations, units, batch jobs, health."""
