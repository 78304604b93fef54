"""Turn a `Say` into the text a member reads, in their language, with their number formats.

The source string is translated first, then rendered by Jinja2's `SandboxedEnvironment`
(templates come from check-in authors and translators: they may read the parameters, never call
into Python). Values are formatted by Babel for the message's locale: amounts as money, dates in
the local form, members and groups by name.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

import jinja2
from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, parse_pattern
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from conversations.answers import GroupRef, Location, MemberRef, Money, Photo
from conversations.definition import Choice
from conversations.events import Say
from conversations.i18n import Catalogs


@dataclass(frozen=True, slots=True)
class RenderedChoice:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """Final text plus the choices (already translated) a channel may show as buttons."""

    text: str
    choices: tuple[RenderedChoice, ...] = ()
    locale: str = "en"
    one_tap: bool = False
    """See `Say.one_tap`."""

    def with_numbered_choices(self) -> str:
        """The text with choices as a numbered list, for channels without buttons."""
        return numbered_choices(self.text, [choice.label for choice in self.choices])


def numbered_choices(text: str, labels: Sequence[str]) -> str:
    """`text` with `labels` as a numbered list below it ("\n1) Yes\n2) No"), the form members
    answer with a number on channels without buttons."""
    if not labels:
        return text
    return text + "\n" + "\n".join(f"{i}) {label}" for i, label in enumerate(labels, start=1))


@lru_cache(maxsize=16)
def _locale(code: str) -> Locale:
    return Locale.parse(code.replace("-", "_"))


_LETTER_BEFORE_NUMBER = re.compile(r"^(\D*[^\W\d_])(?=[-\d])")


def format_money(money: Money, locale: str) -> str:
    """Whole amounts without decimals ("KES 1,500"), others with the currency's digits.

    A currency written with letters is kept apart from the number (CLDR's currency spacing,
    which Babel does not apply): "KES 1,500", not "KES1,500"."""
    babel_locale = _locale(locale)
    if money.amount == money.amount.to_integral_value():
        pattern = copy.copy(parse_pattern(babel_locale.currency_formats["standard"]))
        pattern.frac_prec = (0, 0)
        text = pattern.apply(
            money.amount, babel_locale, currency=money.currency, currency_digits=False
        )
    else:
        text = format_currency(money.amount, money.currency, locale=babel_locale)
    return _plain_spaces(_LETTER_BEFORE_NUMBER.sub(r"\1 ", str(text)))


def _plain_spaces(text: str) -> str:
    """CLDR's no-break spaces become plain ones: SMS's GSM-7 alphabet has no no-break space,
    and one such character makes the whole message cost twice as many segments."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def format_value(value: Any, locale: str) -> str:
    match value:
        case Money():
            return format_money(value, locale)
        case bool():
            return str(value)
        case Decimal() | int():
            return _plain_spaces(
                format_decimal(value, locale=_locale(locale), decimal_quantization=False)
            )
        case date():
            return _plain_spaces(format_date(value, "medium", locale=_locale(locale)))
        case MemberRef() | GroupRef():
            return value.name
        case Location():
            return f"{value.latitude}, {value.longitude}"
        case Photo():
            return "📷"
        case tuple():
            return ", ".join(str(item) for item in value)
        case None:
            return ""
    return str(value)


@jinja2.pass_context
def _finalize(context: jinja2.runtime.Context, value: Any) -> str:
    return format_value(value, context.get("_locale", "en"))


_ENVIRONMENT = SandboxedEnvironment(
    autoescape=False,
    undefined=jinja2.ChainableUndefined,
    finalize=_finalize,
    keep_trailing_newline=False,
)


@lru_cache(maxsize=4096)
def _template(source: str) -> jinja2.Template:
    return _ENVIRONMENT.from_string(source)


def template_problems(source: str, allowed_names: Iterable[str]) -> list[str]:
    """What is wrong with a template: bad syntax or names that will never be provided."""
    try:
        parsed = _ENVIRONMENT.parse(source)
    except jinja2.TemplateSyntaxError as error:
        return [f"template error: {error.message}"]
    unknown = sorted(meta.find_undeclared_variables(parsed) - set(allowed_names))
    return [f"template uses unknown name '{name}'" for name in unknown]


def placeholders(source: str) -> set[str]:
    """The variable names a template reads; translations must read the same ones."""
    try:
        return set(meta.find_undeclared_variables(_ENVIRONMENT.parse(source)))
    except jinja2.TemplateSyntaxError:
        return {"<syntax error>"}


_NAME_ADDRESSED = re.compile(r",\s*\{\{\s*member\.name\s*\}\}")
"""The member addressed by name, the way every shipped text and translation does it: ", Amina"."""


def render_text(source: str, params: Mapping[str, Any], locale: str) -> str | None:
    """The rendered text, or None when the template fails (a broken translation). A member
    without a name (they let the name question be skipped) is not addressed by name: "What kind
    of business do you run?", not "What kind of business do you run, ?"."""
    if "{" not in source:
        return source
    if _addressed_without_a_name(params):
        source = _NAME_ADDRESSED.sub("", source)
    try:
        return _template(source).render({**params, "_locale": locale}).strip()
    except (jinja2.TemplateError, ValueError, TypeError, AttributeError):
        return None


def _addressed_without_a_name(params: Mapping[str, Any]) -> bool:
    member = params.get("member")
    return isinstance(member, Mapping) and not member.get("name")


def render(say: Say, catalogs: Catalogs) -> RenderedMessage:
    translated = catalogs.gettext(say.locale, say.key)
    text = render_text(translated, say.params, say.locale)
    if text is None:
        # A broken translation must never silence the bot: fall back to the checked source.
        text = render_text(say.key, say.params, say.locale) or say.key
    choices = tuple(
        RenderedChoice(choice.id, _choice_label(choice, catalogs, say.locale))
        for choice in say.choices
    )
    return RenderedMessage(text=text, choices=choices, locale=say.locale, one_tap=say.one_tap)


def _choice_label(choice: Choice, catalogs: Catalogs, locale: str) -> str:
    return catalogs.gettext(locale, choice.label)
