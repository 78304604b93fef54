"""What the engine itself says, beyond the texts of the check-ins.

Every string is an English source string and a catalog message id. Placeholders use the same
sandboxed template syntax as the check-ins (`{{ name }}`); translators keep them as they are.
"""

from __future__ import annotations

from conversations.answers import AnswerType
from conversations.i18n import N_

YES = N_("Yes")
NO = N_("No")

IDLE = N_(
    "Hi {{ member.name }}! Send CHECKIN for your weekly check-in, JOURNAL for the monthly "
    "journal, LANGUAGE to change language, or HELP."
)
HELP = N_(
    "I keep your business journal with your peer group. Send CHECKIN for the weekly check-in, "
    "JOURNAL for the monthly journal, SKIP to skip a question you may skip, RESTART to start "
    "again, LANGUAGE to change language, STOP to stop all messages."
)
STOPPED = N_(
    "You will not get any more messages from us. What you shared stays safe. Send START if you "
    "want to come back."
)
STILL_STOPPED = N_("You have stopped messages from us. Send START if you want to come back.")
WELCOME_BACK = N_("Welcome back, {{ member.name }}!")
NOTHING_TO_RESTART = N_("There is nothing to restart right now.")
NOTHING_TO_SKIP = N_("There is no question to skip right now.")
CANT_SKIP = N_("This question can't be skipped, sorry.")
SKIPPED = N_("Skipped.")
GIVING_UP = N_("Let's leave this one for now and go on.")
FINISH_SETUP_FIRST = N_("Let's finish setting you up first.")
CHOOSE_FROM_LIST = N_("Choose")
"""The button that opens a list of choices (WhatsApp's list picker): at most 20 characters."""
STALE_BUTTON = N_("That button was for an earlier question. Here is the current one:")
ALREADY_IN = N_("We are already doing this one. Here is the question again:")
REMINDER = N_("A friendly reminder: your {{ title }} is waiting for you.")
PERSON_WILL_ANSWER = N_("Thank you. A coordinator will answer you here soon.")
BOT_IS_BACK = N_("You are talking with the journal bot again. Send HELP to see what you can do.")
EXPIRED = N_("Your {{ title }} has closed. Thank you for what you shared!")

# TRANSLATORS: The answer to MYDATA. {{ addresses }} is like "whatsapp +254712345678";
# {{ latest }} is one answer a line. Keep DELETE as your "delete" command word.
MY_DATA = N_(
    "Here is what I keep about you:\n"
    "Name: {{ name }}\n"
    "Group: {{ group }}\n"
    "Reached at: {{ addresses }}\n"
    "Check-ins completed: {{ checkins }}, answers: {{ answers }}, messages: {{ messages }}, "
    "stories: {{ stories }}\n"
    "Latest answers:\n{{ latest }}\n"
    "Your coordinator can give you a full copy. Send DELETE to have all of it erased."
)
# TRANSLATORS: After MYDATA's summary; {{ link }} is a web address.
MY_DATA_LINK = N_(
    "A full copy of it, as a spreadsheet file, can be downloaded once within 24 hours here: "
    "{{ link }}"
)
# TRANSLATORS: Stands for a name, a group or answers the member has not given.
NOT_GIVEN = N_("(none)")
# TRANSLATORS: The answer to DELETE. {{ code }} is a word of capital letters, like KDBRT.
DELETE_CONFIRM = N_(
    "This erases your name, your phone numbers, your messages, your stories and the words of "
    "your answers, for good; your group and your coordinator will not see them any more. I will "
    "not write to you again. To confirm, send {{ code }}. To keep everything, send anything else."
)

EMPTY = N_("I didn't get any text. Please type your answer.")
TOO_LONG = N_("That is a bit long for me. Please keep it under {{ limit }} characters.")
TOO_SHORT = N_("Please write a little more (at least {{ limit }} characters).")
NEEDS_WORDS = N_("Please answer with words or numbers.")
NAME_NEEDS_LETTERS = N_("Please send your name in letters, like Amina.")
AMOUNT_AMBIGUOUS = N_(
    "Did you mean {{ small }} or {{ large }}? Please send it again without the dot or comma, "
    "like {{ example }}."
)
OTHER_CURRENCY = N_(
    "You wrote {{ amount }}. Your journal counts in {{ currency }}: please send the amount in "
    "{{ currency }}. To keep it in {{ other }}, send it with the code, like {{ example }}."
)
MEDIA_NOT_EXPECTED = N_("Thank you! For this question I need a typed answer.")
TOO_SMALL = N_("That seems too small. Please send a number of at least {{ limit }}.")
TOO_BIG = N_("That seems too large. Please send a number no bigger than {{ limit }}.")
NO_GROUP_FOR_MEMBER = N_(
    "You are not in a peer group yet, so I will skip the question about other members."
)
MEMBER_AMBIGUOUS = N_('More than one member matches "{{ text }}". Which one do you mean?')
MEMBER_NOT_FOUND = N_(
    'I couldn\'t find "{{ text }}" in your group. Please send their name as the group knows it.'
)
MEMBER_PICK = N_("Please send the number of the person you mean.")
JOIN_CODE_UNKNOWN = N_(
    'I don\'t know the code "{{ text }}". Please check it with your group, or send SKIP.'
)
JOINED_GROUP = N_("You are now in the group {{ group.name }}.")

CONTACT_LINKED = N_("Thank you! Your phone number {{ phone }} is now linked to this chat.")
CONTACT_NOT_OWN = N_("Please share your own phone number, with the button under the message box.")
CONTACT_IN_USE = N_(
    "That phone number is already linked to another member. Please ask your coordinator."
)
GROUP_CHAT_HELLO = N_(
    "Hello everyone! To link this chat to your peer group, a coordinator of the group sends "
    "/link and the group's join code."
)
GROUP_CHAT_LINKED = N_(
    "This chat is now linked to {{ group.name }}. The group's weekly highlights will come here."
)
GROUP_CHAT_LINK_REFUSED = N_(
    "Only a coordinator or staff member of the group can link this chat to it. Nothing was "
    "changed: ask one of them to send /link and the join code here."
)
GROUP_CHAT_UNKNOWN_CODE = N_(
    "I don't know the code \"{{ text }}\". Send /link and your group's join code."
)

DEFAULT_ERRORS: dict[AnswerType, str] = {
    AnswerType.TEXT: N_("Please type your answer."),
    AnswerType.INTEGER: N_("Please send a whole number, like 3."),
    AnswerType.NUMBER: N_("Please send a number, like 12."),
    AnswerType.MONEY: N_("Please send an amount, like {{ example_amount }}."),
    AnswerType.CHOICE: N_("Please send the number of one of the options."),
    AnswerType.MULTI_CHOICE: N_("Please send the numbers of the options, like 1,3."),
    AnswerType.YES_NO: N_("Please answer yes or no."),
    AnswerType.DATE: N_("Please send a date, like today, yesterday or {{ example_date }}."),
    AnswerType.PHOTO: N_("Please send a photo."),
    AnswerType.LOCATION: N_("Please share a location."),
    AnswerType.MEMBER: N_("Please send the name of a member of your group."),
    AnswerType.LANGUAGE: N_("Please send the number of your language."),
    AnswerType.CURRENCY: N_("Please send a currency code, like {{ default_currency }} or USD."),
    AnswerType.JOIN_CODE: N_("Please send your group's join code, or SKIP."),
}

# Telegram's own: a file in the chat, a button under the message box.

# TRANSLATORS: The caption of the CSV file sent after MYDATA's summary (at most 1024 characters).
MY_DATA_FILE = N_(
    "Here is a full copy of it, as a spreadsheet file. It holds your answers and your messages: "
    "keep it somewhere safe."
)
# TRANSLATORS: Sent on Telegram after the first question to a new chat, with a button under the
# message box that shares the member's phone number (CONTACT_BUTTON).
CONTACT_OFFER = N_(
    "Already keeping this journal on WhatsApp or SMS? Tap the button below to share your phone "
    "number, and this chat joins it. If not, just answer the question above."
)
# TRANSLATORS: A button's label: keep it short (about 25 characters).
CONTACT_BUTTON = N_("📱 Share my phone number")
