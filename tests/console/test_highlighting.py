"""The matched words marked in a search hit: what the search matched, escaped for HTML."""

from __future__ import annotations

from bot.web.console.highlighting import highlight


def test_each_word_is_marked_whole_in_any_case_and_accent() -> None:
    assert highlight("I sold MANGOES, Café too", "mangoes cafe") == (
        "I sold <mark>MANGOES</mark>, <mark>Café</mark> too"
    )
    assert (
        highlight("the market's marketing", '"market"') == "the <mark>market</mark>&#39;s marketing"
    )


def test_the_last_word_marks_the_words_it_begins() -> None:
    assert (
        highlight("mangoes and a mango", "mang") == "<mark>mangoes</mark> and a <mark>mango</mark>"
    )
    assert highlight("mangoes and a mango", "mang and") == "mangoes <mark>and</mark> a mango"


def test_a_phrase_is_marked_only_where_its_words_follow_each_other() -> None:
    assert highlight("sold out, then out sold", '"sold out"') == (
        "<mark>sold out</mark>, then out sold"
    )
    assert highlight("we sold-out early", '"sold out"') == "we <mark>sold-out</mark> early"


def test_the_line_is_escaped_and_the_words_are_text() -> None:
    assert highlight("<b>mark</b> & <i>", "b mark") == (
        "&lt;<mark>b</mark>&gt;<mark>mark</mark>&lt;/<mark>b</mark>&gt; &amp; &lt;i&gt;"
    )
    assert highlight("a <script> line", "<script>") == "a &lt;<mark>script</mark>&gt; line"
    assert highlight("nothing typed", "") == "nothing typed"
    assert highlight("nothing typed", '!!! "') == "nothing typed"
