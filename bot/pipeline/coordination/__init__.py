"""What processes share to work together (a work queue, per-member locks, rate limits), in memory
for one process or in Redis for many; Lua scripts in `lua/`."""
