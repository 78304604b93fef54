"""The durable message pipeline: inbox, worker, outbox, sender, and what coordinates them."""
