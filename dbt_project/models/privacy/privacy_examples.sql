{#-
  What each masking function does, on the made-up vectors of seeds/privacy_vectors.csv: a
  table an auditor can read without EXECUTE on the privacy functions (a materialized view
  stores the outputs; a plain view would call the functions as its reader).
  clear_number_left: the output, with full-width digits made half-width and single spaces or
  hyphens between digits removed, still holds a clear 18-character identity number, an
  11-digit mobile or a run of 15 or more digits (legacy id, bank card). Must be false.
-#}
{{ config(materialized='materialized_view', schema='governance') }}

with masked as (
    select
        kind,
        vector,
        input,
        case kind
            when 'name' then 'privacy.mask_name'
            when 'phone' then 'privacy.mask_phone'
            when 'id' then 'privacy.mask_id'
            when 'account' then 'privacy.mask_account'
            when 'free_text' then 'privacy.mask_free_text'
        end as masking_function,
        case kind
            when 'name' then privacy.mask_name(input)
            when 'phone' then privacy.mask_phone(input)
            when 'id' then privacy.mask_id(input)
            when 'account' then privacy.mask_account(input)
            when 'free_text' then privacy.mask_free_text(input)
        end as output
    from {{ ref('privacy_vectors') }}
)

select
    kind,
    vector,
    input,
    masking_function,
    output,
    coalesce(
        regexp_replace(
            translate(output, '０１２３４５６７８９ｘＸ', '0123456789xX'),
            '(?<=[0-9])[- ](?=[0-9])', '', 'g'
        ) ~ '[0-9]{17}[0-9Xx]|1[3-9][0-9]{9}|[0-9]{15}',
        false
    ) as clear_number_left
from masked
