{#- Value normalisation (batches.md: "identity numbers to 18 upper-case characters, digits to
    half-width, mobiles to 11 digits, trimmed"). Pure SQL expressions, set-based, never raising.

    normalize_id and normalize_phone look at their value several times: give them a plain
    column that went through normalize_text in an earlier, fenced step (the staging models
    select from a subquery with `offset 0`, so each trim runs once per value). -#}

{#- Half-width digits, trimmed (ASCII blanks, the ideographic space U+3000, no-break space),
    empty to NULL. Cheapest test first: an all-ASCII value (octet_length = length: identity
    numbers, codes, dates, most phones) holds neither a full-width digit nor U+3000; other
    values pay for translate() only when their UTF-8 bytes hold EF BC, the lead bytes of
    U+FF00-U+FF3F where the full-width digits sit (a byte search is far cheaper than
    translate() on Chinese text). -#}
{% macro normalize_text(col) -%}
nullif(case
    when octet_length({{ col }}) = length({{ col }}) then btrim({{ col }}, E' \t\r\n')
    when position('\xefbc'::bytea in convert_to({{ col }}, 'UTF8')) = 0 then btrim({{ col }}, E' \t\r\n\u3000\u00a0')
    else btrim(translate({{ col }}, '０１２３４５６７８９', '0123456789'), E' \t\r\n\u3000\u00a0')
end, '')
{%- endmacro %}

{#- normalize_text, then upper-case (USCC letters, certificate numbers). -#}
{% macro normalize_upper(col) -%}
upper({{ normalize_text(col) }})
{%- endmacro %}

{#- GB 11643 check character of the digits of `expr` at positions 1..len(weights), weighted
    with `weights`, plus `extra` (constant part of the sum). Inline: one term per position. -#}
{% macro gb11643_check_char(expr, weights=[7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], extra=0) -%}
substr('10X98765432', ((
    {%- for w in weights %}(ascii(substr({{ expr }}, {{ loop.index }}, 1)) - 48) * {{ w }} + {% endfor -%}
    {{ extra }}) % 11) + 1, 1)
{%- endmacro %}

{#- Identity number (col: trimmed text): upper-case (a lower-case x); a legacy 15-digit number
    becomes 18 characters by inserting '19' after the 6-digit area code and appending the
    check character. That check is computed from the 15 digits directly: the inserted 1 and 9
    sit at weights 2 and 1 and add 11 = 0 mod 11. Anything else is returned upper-cased, to be
    judged by is_valid_id. -#}
{% macro normalize_id(col) -%}
case
    when {{ col }} is null then null
    when octet_length({{ col }}) <> 15 then upper({{ col }})
    when translate({{ col }}, '0123456789', '0000000000') <> '000000000000000' then upper({{ col }})
    else left({{ col }}, 6) || '19' || substr({{ col }}, 7) || {{ gb11643_check_char(col, weights=[7, 9, 10, 5, 8, 4, 6, 3, 7, 9, 10, 5, 8, 4, 2], extra=11) }}
end
{%- endmacro %}

{#- Phone (col: trimmed text): a mobile becomes its 11 digits — every non-digit dropped, and a
    +86 / 86 / 0086 prefix dropped when that leaves 11 digits starting with 1. Anything else (a
    landline, an extension, a note) is data and stays as trimmed. A value of at most 11 bytes
    is returned as is: it is either 11 digits already or not a mobile; only longer ones pay
    for the regexp. -#}
{% macro normalize_phone(col) -%}
{%- set digits = "regexp_replace(" ~ col ~ ", '[^0-9]', '', 'g')" -%}
case
    when {{ col }} is null then null
    when octet_length({{ col }}) <= 11 then {{ col }}
    else case length({{ digits }})
        when 11 then case when left({{ digits }}, 1) = '1' then {{ digits }} else {{ col }} end
        when 13 then case when left({{ digits }}, 3) = '861' then substr({{ digits }}, 3) else {{ col }} end
        when 15 then case when left({{ digits }}, 5) = '00861' then substr({{ digits }}, 5) else {{ col }} end
        else {{ col }}
    end
end
{%- endmacro %}
