"""The French catalogue covers every message, keeps every placeholder, and is compiled.

The messages are extracted from the source the way `pybabel extract -F babel.cfg` does
(code and data files), so a sentence added anywhere without its French fails here with
the command that fixes it.
"""

from __future__ import annotations

import ast
import gettext
import io
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from handlers import i18n

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "handlers" / "locale" / "fr" / "LC_MESSAGES" / "smtpcheck.po"
MO = PO.with_suffix(".mo")

HOW_TO_FIX = (
    "update the French catalogue (README, 'Languages'): pybabel extract -F babel.cfg "
    "-o handlers/locale/smtpcheck.pot . && pybabel update -i handlers/locale/smtpcheck.pot "
    "-d handlers/locale -D smtpcheck, translate, then pybabel compile -d handlers/locale -D smtpcheck"
)

Key = tuple[str, str | None]


def extracted() -> dict[Key, tuple[str, ...]]:
    """Every message in the source: (msgid, context) -> its English forms."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[Key, tuple[str, ...]] = {}
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        forms = (message,) if isinstance(message, str) else tuple(message)
        if not forms[0]:
            continue
        found[(forms[0], context)] = forms
    return found


def french() -> Catalog:
    with PO.open("rb") as handle:
        return read_po(handle, locale="fr")


def fields(text: str) -> set[str]:
    """The `{name}` placeholders of a message (format specs and conversions dropped)."""
    return {
        name.split(".")[0].split("[")[0]
        for _literal, name, _spec, _conversion in string.Formatter().parse(text)
        if name is not None
    }


def entries(catalog: Catalog) -> Iterator[Message]:
    for message in catalog:
        if message.id:
            yield message


def test_the_source_has_messages_to_translate() -> None:
    found = extracted()
    assert len(found) > 20
    # A data file's text is a message like the code's.
    assert any(msgid.startswith("SBL: Spamhaus Blocklist") for msgid, _ in found)


def test_no_empty_message_is_marked() -> None:
    """gettext("") is the catalogue's header, not an empty string: never mark one."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    empty = [
        f"{file}:{line}"
        for file, line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map
        )
        if not (message if isinstance(message, str) else message[0])
    ]
    assert not empty, f"_('') marked at {empty}"


def test_every_message_has_a_french_translation() -> None:
    catalog = french()
    missing = []
    for (msgid, context), _forms in sorted(extracted().items()):
        message = catalog.get(msgid, context=context)
        strings = (
            ()
            if message is None
            else (message.string if isinstance(message.string, tuple) else (message.string,))
        )
        if message is None or message.fuzzy or not all(strings):
            missing.append(msgid)
    assert not missing, f"{len(missing)} messages have no French ({HOW_TO_FIX}): {missing[:10]}"


def test_translations_keep_exactly_the_placeholders() -> None:
    broken = []
    for message in entries(french()):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = fields(ids[-1])
        assert fields(ids[0]) <= wanted, f"the English singular has its own field: {ids}"
        for text in strings:
            if text and fields(text) != wanted:
                broken.append((ids[0], sorted(fields(text) ^ wanted)))
    assert not broken, f"placeholders dropped or added: {broken}"


def test_every_message_formats_in_both_languages() -> None:
    """A stray brace in a translation would raise at the worst moment: in front of a person."""
    for message in entries(french()):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        values = {name: "x" for text in ids for name in fields(text)}
        for text in (*ids, *strings):
            if text:
                text.format(**values)


def test_french_plural_forms_are_french() -> None:
    catalog = french()
    assert catalog.num_plurals == 2
    assert catalog.plural_expr in ("(n > 1)", "n > 1")


def test_the_compiled_catalogue_is_up_to_date() -> None:
    """handlers/locale/fr/LC_MESSAGES/smtpcheck.mo is what `pybabel compile` makes of the .po."""
    buffer = io.BytesIO()
    write_mo(buffer, french())
    buffer.seek(0)
    expected = gettext.GNUTranslations(buffer)
    with MO.open("rb") as handle:
        shipped = gettext.GNUTranslations(handle)
    assert shipped._catalog == expected._catalog, f"smtpcheck.mo is stale: {HOW_TO_FIX}"  # type: ignore[attr-defined]


def test_obsolete_messages_are_not_kept() -> None:
    """A message gone from the source leaves the .po too (pybabel update --ignore-obsolete)."""
    in_source = set(extracted())
    stale = [
        m.id
        for m in entries(french())
        if (m.id if isinstance(m.id, str) else m.id[0], m.context) not in in_source
    ]
    assert not stale, f"{len(stale)} translations of messages no longer in the source: {stale[:5]}"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_each_language_translates_from_the_shipped_catalogue(language: i18n.Language) -> None:
    i18n.catalogue.cache_clear()
    with i18n.use(language):
        said = i18n._("No reports of {target} yet.")
    assert (
        said
        == {
            "en": "No reports of {target} yet.",
            "fr": "Aucun rapport pour {target} pour l’instant.",
        }[language]
    )


def _gettext_inside_fstrings(tree: ast.AST) -> Iterator[int]:
    """Lines where _("..."), ngettext or pgettext with a literal sits inside an f-string."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.JoinedStr):
            continue
        for inner in ast.walk(node):
            if (
                isinstance(inner, ast.Call)
                and isinstance(inner.func, ast.Name)
                and inner.func.id in ("_", "N_", "ngettext", "pgettext")
                and any(
                    isinstance(a, ast.Constant) and isinstance(a.value, str) for a in inner.args
                )
            ):
                yield inner.lineno


def test_no_message_hides_inside_an_f_string() -> None:
    """pybabel reads an f-string as one token on Python 3.11: a _("...") inside it is never
    extracted, so it has no French and no test above notices ("Examples:" in help)."""
    hidden = [
        f"{path.relative_to(ROOT)}:{line}"
        for folder in ("bot", "handlers")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line in _gettext_inside_fstrings(ast.parse(path.read_text(), str(path)))
    ]
    assert not hidden, f"move these messages out of their f-string: {hidden}"
