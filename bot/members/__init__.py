"""Members in and out of spreadsheets: the roster import (dry run first) and export, and one
member's own copy of what is kept about them."""
