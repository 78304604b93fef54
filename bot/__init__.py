"""Everything that talks to the world. The folders are the architecture, top to bottom: the
entry points (`cli`, `web`), the processes and the runtime that assembles them, the `pipeline`
and the `schedule`, the program's features, the conversation service (`turns`), and the
`channels` at the edge."""
