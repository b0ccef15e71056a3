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
-- A name without `·` (nearly all) is masked by repeat(), the regular expression only
-- where there is a `·` to keep: the same result at a fraction of the cost per row.
CREATE OR REPLACE FUNCTION privacy.mask_name(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN value IS NULL THEN NULL
        WHEN btrim(value) = '' THEN ''
        WHEN char_length(btrim(value)) = 1 THEN '*'
        WHEN strpos(value, '·') = 0 THEN left(btrim(value), 1) || repeat('*', char_length(btrim(value)) - 1)
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

-- 330683199003071236 → 3***************36: the first character and the last two, as
-- hutool's idCardNum(1, 2). The region, the whole birth segment and two of the three serial
-- digits are hidden, so with a birth year and a gender beside it a masked number still
-- leaves thousands of candidates (docs/decisions.md). Certificate numbers (id + 2) and
-- household numbers take the same shape.
CREATE OR REPLACE FUNCTION privacy.mask_id(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN value IS NULL THEN NULL
        WHEN value = '' THEN ''
        WHEN char_length(value) <= 4 THEN repeat('*', char_length(value))
        ELSE left(value, 1) || repeat('*', char_length(value) - 3) || right(value, 2)
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

-- Free text: every run of digits, also written in groups (`330683 19900307 1236`,
-- `138-0013-8000`, `6228 4800 1234 5678 903`), with full-width digits and `+86` prefixes
-- normalised first, is judged as one number once it holds 11 digits or more: an identity
-- number (18 or 15) takes mask_id's shape; a run of 11-14 that holds a mobile keeps its
-- first three and last four; any other run of 15 or more (bank cards, certificate numbers)
-- keeps its last four. Shorter runs and 11-14 digit codes without a mobile (a 12-digit
-- division code) stay as they are.
CREATE OR REPLACE FUNCTION privacy.mask_free_text(value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    t text;
    run text;
    d text;
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    END IF;
    t := translate(value, '０１２３４５６７８９ｘＸ＋－', '0123456789xX+-');
    FOR run IN
        SELECT m[1] FROM regexp_matches(
            t, '((?<![0-9])[0-9](?:[ -]?[0-9])*(?:[ -]?[Xx](?:[ -]?[0-9]){0,2})?)(?![0-9])', 'g') AS m
        GROUP BY 1 ORDER BY char_length(m[1]) DESC
    LOOP
        d := upper(regexp_replace(run, '[ -]', '', 'g'));
        CONTINUE WHEN char_length(d) < 11;
        t := replace(t, run, CASE
            WHEN d ~ '^([0-9]{17}[0-9X]|[0-9]{15})$'
                THEN left(d, 1) || repeat('*', char_length(d) - 3) || right(d, 2)
            WHEN char_length(d) <= 14 AND d !~ '1[3-9][0-9]{9}' THEN run
            WHEN char_length(d) <= 14 THEN left(d, 3) || repeat('*', char_length(d) - 7) || right(d, 4)
            ELSE repeat('*', char_length(d) - 4) || right(d, 4)
        END);
    END LOOP;
    RETURN t;
END
$$;

-- Keyed HMAC-SHA256 (RFC 2104) on built-in sha256(): the pads are precomputed from the
-- key by the pipeline. Same value → same token in every tier. token_with takes the pads as
-- arguments, so PostgreSQL inlines it into a bulk SELECT that joins privacy_key.hmac_pads once
-- (the protected models); token(value) reads them itself, a query per call, for the rest.
CREATE OR REPLACE FUNCTION privacy.token_with(value text, inner_pad bytea, outer_pad bytea) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value IS NULL OR value = '' THEN NULL ELSE
        encode(sha256(outer_pad || sha256(inner_pad || convert_to(value, 'UTF8'))), 'hex')
    END
$$;

CREATE OR REPLACE FUNCTION privacy.token(value text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT privacy.token_with(value, p.inner_pad, p.outer_pad) FROM privacy_key.hmac_pads p
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
