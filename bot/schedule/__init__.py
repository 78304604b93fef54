"""The clock: one process sweeps the durable timers (invitations, reminders, expiries, highlights,
scheduled broadcasts) and turns the due ones into turns or outbox rows."""
