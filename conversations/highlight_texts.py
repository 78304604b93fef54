"""What the weekly highlight says to a group, in English source strings (catalog ids).

The highlight is read in a group chat and, one by one, on WhatsApp and SMS: short lines, no
emoji (one would make a whole SMS cost twice as many segments) and no plural forms (counts
follow a colon, so "1" and "7" read the same in every language). Amounts and percentages arrive
already formatted for the group's language.
"""

from __future__ import annotations

from conversations.i18n import N_

# TRANSLATORS: First line of the weekly highlight sent to a peer group.
TITLE = N_("This week in {{ group.name }}:")
# TRANSLATORS: How many members did their weekly check-in, e.g. "Check-ins: 4 of 6 members."
CHECKED_IN = N_("Check-ins: {{ checked_in }} of {{ members }} members.")
# TRANSLATORS: The group's total sales; {{ trend }} is one of the "... last week" phrases.
SALES = N_("Sales together: {{ sales }} ({{ trend }}).")
# TRANSLATORS: The group's total savings; {{ trend }} is one of the "... last week" phrases.
SAVED = N_("Saved together: {{ saved }} ({{ trend }}).")
# TRANSLATORS: The group's total sales, when last week's cannot be compared.
SALES_ALONE = N_("Sales together: {{ sales }}.")
# TRANSLATORS: The group's total savings, when last week's cannot be compared.
SAVED_ALONE = N_("Saved together: {{ saved }}.")
# TRANSLATORS: Sales some members gave in another currency than the group's, e.g. "USD 300".
OTHER_SALES = N_("Sales together in {{ currency }}: {{ sales }}.")
# TRANSLATORS: Savings some members gave in another currency than the group's.
OTHER_SAVED = N_("Saved together in {{ currency }}: {{ saved }}.")
# TRANSLATORS: {{ currencies }} is a list of currency codes, like "USD, UGX".
OTHER_PRIVATE = N_(
    "A few amounts came in other currencies ({{ currencies }}): too few members used them to "
    "show a total."
)
# TRANSLATORS: Goes inside the brackets after a total; {{ percent }} is like "25%".
TREND_UP = N_("up {{ percent }} on last week")
# TRANSLATORS: Goes inside the brackets after a total; {{ percent }} is like "25%".
TREND_DOWN = N_("down {{ percent }} on last week")
# TRANSLATORS: Goes inside the brackets after a total.
TREND_SAME = N_("same as last week")
# TRANSLATORS: Goes inside the brackets after a total, when last week's total was zero.
TREND_UP_FROM_ZERO = N_("up from zero last week")
# TRANSLATORS: How many times members said they helped each other this week.
HELP = N_("Acts of help between members: {{ help }}.")
# TRANSLATORS: A member's win, quoted; {{ name }} is their first name.
MEMBER_STORY = N_('{{ name }} shares: "{{ story }}"')
# TRANSLATORS: A win written by the program's staff, quoted.
STORY = N_('A story to share: "{{ story }}"')
# TRANSLATORS: Last line of a week with check-ins.
CLOSING = N_("Well done, everyone. Keep helping each other!")
# TRANSLATORS: Last line of a week when nobody checked in: encouraging, never scolding.
# CHECKIN is the first word of your "checkin" keyword list.
QUIET_WEEK = N_(
    "A quiet week for check-ins, and that is okay. Every week is a fresh start: send me "
    "CHECKIN when you are ready to tell me how business went."
)
