"""Time rules every part shares: quiet hours and cron schedules in a group's own time zone."""
