"""Evidence units: code and configuration lines, table rows and list items stay whole."""

from __future__ import annotations

from ragengine.composition.evidence import split_sentences, units

SETTINGS = """O algoritmo de assinatura é definido em settings.py:

# orbita/settings.py
ALGORITHM = "HS256"
ACCESS_TOKEN_EXPIRE_MINUTES = 30

O token de acesso vale por pouco tempo."""

CACHE = """O tempo de vida (TTL) depende do tipo de consulta:

CACHE_TTL = {
    "factual_queries": 86400,  # 24h
    "news_queries": 900,  # 15 min
}
CACHE_MAX_ENTRY_BYTES = 1_048_576"""

YAML = """Os limites ficam em config/orbita.yaml:

rate_limits:
  default:
    requests_per_minute: 60
  partner:
    requests_per_minute: 300
    burst: 50"""

TABLE = """As conexões são configuradas por variáveis de ambiente:

Variável | Padrão | Descrição
DB_POOL_SIZE | 20 | Conexões abertas por instância
DB_SSL_MODE | verify-full | Exige TLS"""


def by_text(text: str) -> dict:
    return {unit.text: unit for unit in units(text)}


def test_each_configuration_line_is_its_own_unit_quoted_as_code() -> None:
    found = by_text(SETTINGS)

    algorithm = found['ALGORITHM = "HS256"']
    assert algorithm.kind == "code"
    assert algorithm.quote == '`ALGORITHM = "HS256"`'
    assert algorithm.key == "ALGORITHM"
    # The sentence before the block and the file-name comment say what it is about.
    assert "algoritmo de assinatura" in algorithm.context
    assert "orbita/settings.py" in algorithm.context
    assert found["ACCESS_TOKEN_EXPIRE_MINUTES = 30"].kind == "code"
    assert found["O token de acesso vale por pouco tempo."].kind == "prose"


def test_a_dict_entry_keeps_its_comment_and_names_the_dict_it_belongs_to() -> None:
    found = by_text(CACHE)

    factual = found['"factual_queries": 86400,  # 24h']
    assert factual.kind == "code"
    assert factual.quote == '`"factual_queries": 86400,  # 24h` (CACHE_TTL)'
    assert "CACHE_TTL" in factual.context and "TTL" in factual.context
    assert found["CACHE_TTL = {"].is_heading  # the opener only gives context
    assert "}" not in found
    # A line after the closing brace no longer belongs to the dict.
    assert found["CACHE_MAX_ENTRY_BYTES = 1_048_576"].quote == "`CACHE_MAX_ENTRY_BYTES = 1_048_576`"


def test_nested_yaml_keys_are_carried_by_the_lines_under_them() -> None:
    found = by_text(YAML)

    assert found["burst: 50"].quote == "`burst: 50` (rate_limits › partner)"
    assert found["requests_per_minute: 60"].quote == (
        "`requests_per_minute: 60` (rate_limits › default)"
    )
    assert found["partner:"].is_heading


def test_a_table_row_is_shown_with_its_header() -> None:
    found = by_text(TABLE)

    row = found["DB_SSL_MODE | verify-full | Exige TLS"]
    assert row.kind == "row"
    assert row.quote == "Variável: DB_SSL_MODE · Padrão: verify-full · Descrição: Exige TLS"
    assert row.key == "DB_SSL_MODE"
    assert "Padrão" in row.context
    assert found["Variável | Padrão | Descrição"].is_heading


def test_a_table_cut_mid_way_has_no_header_to_guess() -> None:
    # A chunk that starts inside a table begins with a data row, not a header.
    rows = units("P3 | Something is slow | 3 hours\nP4 | New hardware | next working day")

    assert [u.kind for u in rows] == ["row", "row"]
    assert rows[0].quote == "P3 | Something is slow | 3 hours"


def test_prose_with_colons_and_numbers_is_not_mistaken_for_code() -> None:
    text = (
        "Finance: expense reports and reimbursements.\n"
        "Core hours are 10:00 to 16:00 local time.\n"
        "The rate is 2.5 days per month."
    )
    assert {u.kind for u in units(text)} == {"prose"}


def test_a_short_list_item_stays_one_unit_even_with_two_sentences() -> None:
    text = "Who to ask:\n- Office managers: desks and visitors. Marta Oliveira in Lisbon."
    item = units(text)[-1]

    assert item.kind == "item"
    assert item.text == "Office managers: desks and visitors. Marta Oliveira in Lisbon."
    assert item.context == "Who to ask:"


def test_commands_are_code_and_split_sentences_returns_every_unit_text() -> None:
    text = "Reverta para a versão anterior:\n\nmake rollback ENV=production"

    assert units(text)[-1].kind == "code"
    assert split_sentences(text) == [
        "Reverta para a versão anterior:",
        "make rollback ENV=production",
    ]
