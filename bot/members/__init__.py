"""Members in and out of spreadsheets: the roster import (dry run first) and export."""
