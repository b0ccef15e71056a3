{#- Validity tests of normalised values (batches.md, row rules). Each returns a boolean and is
    FALSE for NULL (callers decide whether an empty value is allowed). None can raise: every
    byte read sits behind a CASE arm that proved the length, and impossible calendar dates
    (1990-02-30) are caught arithmetically, never by a failing cast.

    Fixed-shape values (identity numbers, dates, timestamps, periods) are judged on their
    UTF-8 bytes: `b` is convert_to(col, 'UTF8'), which the staging models compute once per
    value in an earlier, fenced step (pass it as b=...; by default it is derived from col,
    correct but slower). get_byte() is far cheaper than substr()/translate()/regexp on
    text, which matters at a million rows. -#}

{%- macro _bytes_of(col, b) -%}
{{ b if b else "convert_to(" ~ col ~ ", 'UTF8')" }}
{%- endmacro %}

{#- Byte i (0-based) of b is an ASCII digit. -#}
{%- macro _digit_at(b, i) -%}
get_byte({{ b }}, {{ i }}) between 48 and 57
{%- endmacro %}

{#- The decimal number written by the n ASCII digits of b from byte `start` (0-based). -#}
{%- macro _int_at(b, start, n) -%}
({% for k in range(n) %}(get_byte({{ b }}, {{ start + k }}) - 48){{ ' * ' ~ (10 ** (n - 1 - k)) if n - 1 - k > 0 }}{{ ' + ' if not loop.last }}{% endfor %})
{%- endmacro %}

{#- All bytes at `positions` are ASCII digits: byte # 48 (xor 0x30) is below 10 exactly for
    0x30-0x39; one greatest() instead of a comparison pair per byte. -#}
{%- macro _digits_at(b, positions) -%}
greatest({% for i in positions %}get_byte({{ b }}, {{ i }}) # 48{{ ', ' if not loop.last }}{% endfor %}) < 10
{%- endmacro %}

{#- y, m, d: integer expressions. True when they make a calendar date (Gregorian, leap years,
    year >= 1). Days per month come from a 12-byte table; the year is looked at again only for
    a 29 February. -#}
{% macro is_valid_ymd(y, m, d) -%}
case
    when {{ m }} not between 1 and 12 or {{ d }} < 1 or {{ y }} < 1 then false
    when {{ d }} <= get_byte('\x1f1c1f1e1f1e1f1f1e1f1e1f'::bytea, {{ m }} - 1) then true
    else {{ m }} = 2 and {{ d }} = 29 and {{ y }} % 4 = 0 and ({{ y }} % 100 <> 0 or {{ y }} % 400 = 0)
end
{%- endmacro %}

{#- GB 11643 resident identity number, normalised (18 characters): 17 digits + check character
    (0-9 or X), a real birth date YYYYMMDD in characters 7-14 between 1880-01-01 and today,
    and the right check character ("10X98765432"[sum of digit * weight mod 11]). -#}
{% macro is_valid_id(col, b=none) -%}
{%- set b = _bytes_of(col, b) -%}
{%- set weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] -%}
{%- set y = _int_at(b, 6, 4) -%}{%- set m = _int_at(b, 10, 2) -%}{%- set d = _int_at(b, 12, 2) -%}
case
    when octet_length({{ b }}) is distinct from 18 then false
    when not ({{ _digits_at(b, range(17)) }}) then false
    when get_byte({{ b }}, 17) # 48 >= 10 and get_byte({{ b }}, 17) <> 88 then false
    when {{ y }} < 1880 or not {{ is_valid_ymd(y, m, d) }} then false
    else make_date({{ y }}, {{ m }}, {{ d }}) <= current_date
        and get_byte({{ b }}, 17) = get_byte('10X98765432'::bytea, (
            {%- for w in weights %}(get_byte({{ b }}, {{ loop.index0 }}) - 48) * {{ w }}{{ ' + ' if not loop.last }}{% endfor -%}
            ) % 11)
end
{%- endmacro %}

{#- GB 32100 unified social credit code: 18 characters of 0-9 A-H J-N P-R T U W-Y, the 18th
    the check character of the first 17 (weights 3^i mod 31). Text-based: USCCs are few. -#}
{% macro is_valid_uscc(col) -%}
{%- set alphabet = '0123456789ABCDEFGHJKLMNPQRTUWXY' -%}
{%- set weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] -%}
case
    when octet_length({{ col }}) is distinct from 18 then false
    when translate({{ col }}, '{{ alphabet }}', '') <> '' then false
    else substr({{ col }}, 18, 1) = substr('{{ alphabet }}', ((31 - (
            {%- for w in weights %}(strpos('{{ alphabet }}', substr({{ col }}, {{ loop.index }}, 1)) - 1) * {{ w }}{{ ' + ' if not loop.last }}{% endfor -%}
            ) % 31) % 31) + 1, 1)
end
{%- endmacro %}

{#- Date YYYY-MM-DD, a real calendar day. -#}
{% macro is_valid_date(col, b=none) -%}
{%- set b = _bytes_of(col, b) -%}
case
    when octet_length({{ b }}) is distinct from 10 then false
    when get_byte({{ b }}, 4) <> 45 or get_byte({{ b }}, 7) <> 45 then false
    when not ({{ _digits_at(b, [0, 1, 2, 3, 5, 6, 8, 9]) }}) then false
    else {{ is_valid_ymd(_int_at(b, 0, 4), _int_at(b, 5, 2), _int_at(b, 8, 2)) }}
end
{%- endmacro %}

{#- Timestamp, ISO 8601 with offset: YYYY-MM-DDTHH:MM:SS[.fraction](+HH:MM|-HH:MM|Z), a real
    day, hour <= 23, minute and second <= 59, offset <= 14:59. The usual 25-byte form
    (2026-11-22T18:03:11+08:00) is judged on bytes; the rarer forms pass a regexp first. -#}
{% macro is_valid_timestamp(col, b=none) -%}
{%- set b = _bytes_of(col, b) -%}
{%- set n = 'octet_length(' ~ b ~ ')' -%}
{%- set regex = "'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$'" -%}
case
    when {{ n }} is null or {{ n }} < 20 then false
    when not (case
            when {{ n }} <> 25 then {{ col }} ~ {{ regex }}
            when get_byte({{ b }}, 4) = 45 and get_byte({{ b }}, 7) = 45
                and get_byte({{ b }}, 10) = 84 and get_byte({{ b }}, 13) = 58 and get_byte({{ b }}, 16) = 58
                and get_byte({{ b }}, 19) in (43, 45) and get_byte({{ b }}, 22) = 58
                and ({{ _digits_at(b, [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 23, 24]) }}) then true
            else {{ col }} ~ {{ regex }}
         end) then false
    else {{ is_valid_ymd(_int_at(b, 0, 4), _int_at(b, 5, 2), _int_at(b, 8, 2)) }}
        and {{ _int_at(b, 11, 2) }} <= 23
        and {{ _int_at(b, 14, 2) }} <= 59
        and {{ _int_at(b, 17, 2) }} <= 59
        and case
            when get_byte({{ b }}, {{ n }} - 1) = 90 then true
            else (get_byte({{ b }}, {{ n }} - 5) - 48) * 10 + get_byte({{ b }}, {{ n }} - 4) - 48 <= 14
                and (get_byte({{ b }}, {{ n }} - 2) - 48) * 10 + get_byte({{ b }}, {{ n }} - 1) - 48 <= 59
        end
end
{%- endmacro %}

{#- Period YYYY-MM. -#}
{% macro is_valid_period(col, b=none) -%}
{%- set b = _bytes_of(col, b) -%}
case
    when octet_length({{ b }}) is distinct from 7 then false
    when get_byte({{ b }}, 4) <> 45 then false
    when not ({{ _digits_at(b, [0, 1, 2, 3, 5, 6]) }}) then false
    else {{ _int_at(b, 0, 4) }} >= 1 and {{ _int_at(b, 5, 2) }} between 1 and 12
end
{%- endmacro %}

{#- Decimal number: optional sign, digits with an optional fraction (no exponent, no
    thousands separators). Text-based: amounts are few. -#}
{% macro is_valid_amount(col) -%}
coalesce({{ col }} ~ '^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)$', false)
{%- endmacro %}
