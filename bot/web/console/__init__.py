"""The coordinator console: the staff's browser app at `/console` (see docs/console.md).

`console_app(runtime)` builds it as a Starlette application that the web process mounts. Every
request passes `access.Gate` first: the session, the idle timeout, the role, the CSRF token of a
form, and then the group scope of any member it names, before any query of theirs runs.
"""
