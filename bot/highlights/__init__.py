"""The weekly peer highlight: composed from a group's week and delivered to the group."""
