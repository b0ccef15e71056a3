{#
  The named desensitization functions. They live in schema `privacy` so lineage over
  compiled SQL can see every masking step; EXECUTE is revoked from PUBLIC so no unit can
  tokenize guessed values. Called from on-run-start; CREATE OR REPLACE keeps grants.
  The token key is read from privacy_key.hmac_pads (written by the pipeline with bind
  parameters), never from SQL text.
#}
{% macro create_privacy_functions() %}
-- bodies reference tables the pipeline creates; validate them at call time
SET check_function_bodies = false;
CREATE SCHEMA IF NOT EXISTS privacy;
REVOKE ALL ON SCHEMA privacy FROM PUBLIC;

-- 张三 → 张*, 欧阳娜娜 → 欧***, 阿依·买买提 → 阿*·***: first character kept, the
-- rest masked character by character (four-byte characters are one character), `·` kept.
CREATE OR REPLACE FUNCTION privacy.mask_name(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN value IS NULL THEN NULL
        WHEN btrim(value) = '' THEN ''
        WHEN char_length(btrim(value)) = 1 THEN '*'
        ELSE left(btrim(value), 1) || regexp_replace(substr(btrim(value), 2), '[^·]', '*', 'g')
    END
$$;

-- 13800138000 → 138****8000; anything else (a landline) keeps its last four.
CREATE OR REPLACE FUNCTION privacy.mask_phone(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN value IS NULL THEN NULL
        WHEN value = '' THEN ''
        WHEN value ~ '^1[0-9]{10}$' THEN left(value, 3) || '****' || right(value, 4)
        WHEN char_length(value) <= 4 THEN repeat('*', char_length(value))
        ELSE repeat('*', char_length(value) - 4) || right(value, 4)
    END
$$;

-- 330683199001011234 → 330683********1234; a certificate number (id + 2) keeps the
-- same six and four: region visible, birth date and serial hidden.
CREATE OR REPLACE FUNCTION privacy.mask_id(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN value IS NULL THEN NULL
        WHEN value = '' THEN ''
        WHEN char_length(value) <= 10 THEN repeat('*', char_length(value))
        ELSE left(value, 6) || repeat('*', char_length(value) - 10) || right(value, 4)
    END
$$;

-- 6222021234567890123 → ***************0123
CREATE OR REPLACE FUNCTION privacy.mask_account(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN value IS NULL THEN NULL
        WHEN char_length(value) <= 4 THEN repeat('*', char_length(value))
        ELSE repeat('*', char_length(value) - 4) || right(value, 4)
    END
$$;

-- Free text: identity numbers (18/15), certificate numbers (id + 2), bank cards (16-19
-- digits, also in groups of four) and mobiles inside a value are masked in place;
-- full-width digits are normalised first so none slip by.
CREATE OR REPLACE FUNCTION privacy.mask_free_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value IS NULL THEN NULL ELSE
        regexp_replace(
          regexp_replace(
            regexp_replace(
              translate(value, '０１２３４５６７８９ｘＸ', '0123456789xX'),
              -- any run of 15+ digits (ids, 20-character certificate numbers with an X inside,
              -- bank cards): first six and last four kept
              '(?<![0-9])([0-9]{6})[0-9]{5,}(?:[Xx](?=[0-9]))?([0-9Xx]{4})(?![0-9])',
              '\1********\2', 'g'),
            -- bank cards written in groups of four: 6228 4800 1234 5678 903
            '(?<![0-9])([0-9]{4})(?:[- ][0-9]{4}){2,3}[- ]([0-9]{1,4})(?![0-9])',
            '\1 **** **** \2', 'g'),
          -- mobiles, also written 138-0013-8000, 138 0013 8000 or +8613800138000
          '(?<![0-9])((?:86)?1[3-9][0-9])[- ]?[0-9]{4}[- ]?([0-9]{4})(?![0-9])', '\1****\2', 'g')
    END
$$;

-- Keyed HMAC-SHA256 (RFC 2104) on built-in sha256(): the pads are precomputed from the
-- key by the pipeline. Same value → same token in every tier.
CREATE OR REPLACE FUNCTION privacy.token(value text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value IS NULL OR value = '' THEN NULL ELSE
        encode(sha256(p.outer_pad || sha256(p.inner_pad || convert_to(value, 'UTF8'))), 'hex')
    END
    FROM privacy_key.hmac_pads p
$$;

-- An address generalized to the village (or town) of its division code.
CREATE OR REPLACE FUNCTION privacy.generalize_address(division_code text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN d.level = 'village' THEN t.name || d.name ELSE d.name END
    FROM governance.divisions d LEFT JOIN governance.divisions t ON t.code = d.town_code
    WHERE d.code = CASE WHEN division_code LIKE '%000' THEN left(division_code, 9)
                        ELSE division_code END
$$;

-- A birth date generalized to its year.
CREATE OR REPLACE FUNCTION privacy.generalize_date(value date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT extract(year FROM value)::integer
$$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA privacy FROM PUBLIC;
{% endmacro %}

{#- Luhn (ISO/IEC 7812) check of a digit string: bank card numbers found inside values. -#}
{% macro create_detection_functions() %}
CREATE OR REPLACE FUNCTION privacy.luhn_valid(digits text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT digits ~ '^[0-9]{12,19}$' AND (
        SELECT sum(CASE WHEN i % 2 = 0
                        THEN (d * 2) / 10 + (d * 2) % 10
                        ELSE d END) % 10 = 0
        FROM (SELECT i, substr(reverse(digits), i, 1)::int AS d
              FROM generate_series(1, char_length(digits)) AS i) t
    )
$$;
REVOKE EXECUTE ON FUNCTION privacy.luhn_valid(text) FROM PUBLIC;
{% endmacro %}
