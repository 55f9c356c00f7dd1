# The jq baseline: mappings/invoices.yaml and rules/invoices/*.rhai written
# in jq, with the default settings (tax.mode item, amounts_are exclusive,
# default_account_code 200, money_decimals 2, max_line_items 200), run over
# the same JSON Lines as the engine: one Zoho invoice per line in, one result
# per line out ({source_id, label, verdict, violations, payload}).
# `$related[0]` holds the Contacts, Accounts and Products of the snapshot,
# indexed once (as the engine's enrichment caches them).
#
# Same work as the engine: every source rule (mandatory_fields with the
# contact's account checked through Contacts, add_to_xero, status through the
# statuses lookup, tax_mode, line_item_limit), the whole mapping (dates
# checked and cut to YYYY-MM-DD, CurrencyRate when not 1, Status through the
# lookup, DiscountAmount when not 0, money rounded half away from zero,
# ItemCode from the line's product or else from the Products record, TaxType
# through the lookup, null fields left out), then the target rules
# (item_code_when_not_exclusive, xero_limits). The bench checks that its
# verdicts, violation codes and payloads equal the engine's, record by record.
#
# Differences that remain: money is rounded in binary floating point (the
# engine uses decimals; they agree on prices with up to four decimals, as
# generated); violation messages are left out (codes, fields and severities
# are kept); only the default settings are written out (the engine reads
# them from the project); a mapped field of the wrong type (an object where
# text is expected, a date that is not one) stops jq on that record where
# the engine reports INVALID_VALUE (the generated data has none); jq's `//`
# also passes over `false` where Rhai's `??` passes over `()` only (no field
# used here is ever `false`).

def blank: . == null
  or ((type == "string") and (test("\\S") | not))
  or ((type == "array" or type == "object") and length == 0);
def either(f; g): (f) as $x | if $x == null then g else $x end;
def v(rule; code; severity; field): {rule: ("invoices/" + rule), code: code, severity: severity, field: field};
def text: if type == "string" then . elif type == "number" or type == "boolean" then tostring else error("not text") end;
def round_dp(n): pow(10; n) as $m | (. * $m | if . < 0 then -((-.) | round) else round end) / $m;
def to_date: (.[0:10]) as $d
  | if (. | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ].*)?$"))
       and ((try ($d | strptime("%Y-%m-%d") | mktime | strftime("%Y-%m-%d")) catch null) == $d)
    then $d else error("not a date") end;
# The first selector whose value is present (not null), as the mapping's `path: [...]`.
def first_present(f): first(f | values) // null;

($related[0].Contacts | map({key: (.id | tostring), value: .}) | from_entries) as $contacts
| ($related[0].Products | map({key: (.id | tostring), value: .}) | from_entries) as $products
| {"GST": "OUTPUT", "GST Free": "EXEMPTOUTPUT", "No Tax": "NONE"} as $tax_types
| {"Created": "DRAFT", "Approved": "AUTHORISED", "Delivered": "AUTHORISED", "Paid": "AUTHORISED"} as $statuses
| {"exclusive": "Exclusive", "inclusive": "Inclusive", "no_tax": "NoTax"} as $amount_types
# Run with -n: the tables above are built once, then every input is mapped.
| inputs
| . as $r
| either($r.Invoiced_Items; $r.Product_Details) as $lines
| $r.Account_Name as $account
| (if ($account | type) == "object" then $account.id else null end) as $account_id
| $r.Contact_Name as $contact

# Source rules.
| [
    # mandatory_fields
    (if ($account | type) != "object" or ($account.name | blank) or ($account_id | blank)
     then v("mandatory_fields"; "MISSING_ACCOUNT"; "error"; "Account_Name") else empty end),
    (if ($contact | type) != "object" or ($contact.name | blank) or ($contact.id | blank)
     then v("mandatory_fields"; "MISSING_CONTACT"; "error"; "Contact_Name")
     elif ($account_id | blank) | not then
       $contacts[$contact.id | tostring] as $found
       | if $found == null then v("mandatory_fields"; "CONTACT_NOT_FOUND"; "error"; "Contact_Name")
         else $found.Account_Name as $owner
           | if (if ($owner | type) == "object" then $owner.id else null end) != $account_id
             then v("mandatory_fields"; "CONTACT_NOT_OF_ACCOUNT"; "error"; "Contact_Name") else empty end
         end
     else empty end),
    (if $lines == null or (($lines | type) == "array" and ($lines | length) == 0)
     then v("mandatory_fields"; "NO_PRODUCT_LINES"; "error"; "Invoiced_Items")
     elif ($lines | type) != "array" then v("mandatory_fields"; "INVALID_PRODUCT_LINES"; "error"; "Invoiced_Items")
     else empty end),
    # add_to_xero (a bulk run: skipped, not refused)
    ($r.Add_to_Xero as $checked
     | if $checked != true and $checked != "true"
       then v("add_to_xero"; "ADD_TO_XERO_UNCHECKED"; "skip"; "Add_to_Xero") else empty end),
    # status
    ($r.Status as $status
     | if ($status | blank | not) and ($statuses | has($status | tostring) | not)
       then v("status"; "STATUS_NOT_MAPPED"; "skip"; "Status") else empty end),
    # tax_mode (item mode)
    (if ($lines | type) == "array" then
       [$r["$line_tax"] | if type == "array" then .[] else empty end
        | select(type == "object" and (.name | blank | not)) | .name] as $invoice_tax_names
       | [range(0; $lines | length) as $i | $lines[$i] | select(type == "object")
          | either(.Line_Tax; .line_tax) | select(type == "array" and length > 0) | {i: $i, taxes: .}] as $taxed
       | ([$taxed[].taxes[] | select(type == "object" and (.name | blank | not)) | .name] | unique) as $line_tax_names
       | ($taxed[] | select((.taxes | length) > 1)
          | v("tax_mode"; "MULTIPLE_LINE_TAXES"; "error"; "Invoiced_Items[\(.i)].Line_Tax")),
         (if ($taxed | length) > 0 and ($invoice_tax_names | length) > 0
          then v("tax_mode"; "TAX_MODE_MISMATCH"; "error"; "$line_tax")
          elif ($invoice_tax_names | length) > 0 then v("tax_mode"; "TAX_MODE_MISMATCH"; "error"; "$line_tax")
          else empty end),
         ($line_tax_names[] | select(. as $n | $tax_types | has($n) | not)
          | v("tax_mode"; "UNKNOWN_TAX"; "error"; "Line_Tax"))
     else empty end),
    # line_item_limit
    (if ($lines | type) == "array" and ($lines | length) > 200
     then v("line_item_limit"; "TOO_MANY_LINES"; "error"; "Invoiced_Items") else empty end)
  ] as $source
| def verdict: if any(.[]; .severity == "error") then "reject" elif any(.[]; .severity == "skip") then "skip" else "sync" end;

# The mapping, only for records the source rules let through.
(if ($source | verdict) != "sync" then {violations: [], payload: null} else
  [ (if ($account.name // null) == null then v("mapping"; "MISSING_VALUE"; "error"; "Contact.Name") else empty end) ] as $problems
  | {
      Type: "ACCREC",
      Contact: ({Name: ($account.name | if . == null then null else text end)} | del(.[] | nulls) | if length == 0 then null else . end),
      InvoiceNumber: ($r.Invoice_Number | if . == null then null else text end),
      Reference: ($r.Subject | if . == null then null else text end),
      Date: ($r.Invoice_Date | if . == null then null else to_date end),
      DueDate: ($r.Due_Date | if . == null then null else to_date end),
      CurrencyCode: ($r.Currency | if . == null then null else text end),
      CurrencyRate: ($r.Exchange_Rate | if . == null or . == 1 then null else tonumber end),
      Status: (($r.Status | if . == null then null else $statuses[tostring] end) // "DRAFT"),
      LineAmountTypes: $amount_types["exclusive"],
      LineItems: [
        (first(($r.Invoiced_Items, $r.Product_Details) | select(type == "array" and length > 0)) // [])[]
        | . as $line
        | either($line.Product_Name; $line.product) as $product
        | (if ($product | type) == "object" then $product.Product_Code else null end) as $code
        | (if ($code | blank) and ($product | type) == "object"
           then $products[$product.id | tostring].Product_Code else $code end) as $code
        | either($line.Line_Tax; $line.line_tax) as $taxes
        | {
            Description: (first_present($line.Description, $line.product_description, $line.Product_Name.name?, $line.product.name?) | if . == null then null else text end),
            Quantity: (first_present($line.Quantity, $line.quantity) // 1 | tonumber),
            UnitAmount: (first_present($line.List_Price, $line.list_price) | if . == null then null else tonumber | round_dp(4) end),
            DiscountAmount: (first_present($line.Discount, $line.discount) | if . == null then null else tonumber | round_dp(2) | if . == 0 then null else . end end),
            ItemCode: (if $code | blank then null else $code end),
            AccountCode: "200",
            TaxType: (if $taxes | blank then null else $tax_types[$taxes[0].name] end)
          }
        | del(.[] | nulls)
      ]
    }
  | del(.[] | nulls) as $payload
  # Target rules: item_code_when_not_exclusive (exclusive: nothing to check), xero_limits.
  | [ (if ($payload.Contact.Name | blank) and ($payload.Contact.ContactID | blank)
       then v("xero_limits"; "XERO_CONTACT_REQUIRED"; "error"; "Contact") else empty end),
      (range(0; $payload.LineItems | length) as $i | $payload.LineItems[$i]
       | (if (.Description | blank) and (.ItemCode | blank)
          then v("xero_limits"; "XERO_DESCRIPTION_REQUIRED"; "error"; "LineItems[\($i)].Description") else empty end),
         (if (.ItemCode | blank | not) and (.ItemCode | length) > 30
          then v("xero_limits"; "XERO_ITEM_CODE_TOO_LONG"; "error"; "LineItems[\($i)].ItemCode") else empty end),
         (if (.Description | blank | not) and (.Description | length) > 4000
          then v("xero_limits"; "XERO_DESCRIPTION_TOO_LONG"; "error"; "LineItems[\($i)].Description") else empty end))
    ] as $target
  | {violations: ($problems + $target), payload: $payload}
 end) as $mapped
| ($source + $mapped.violations) as $violations
| ($violations | verdict) as $verdict
| {
    source_id: ($r.id | if . == null then null else tostring end),
    label: $r.Invoice_Number,
    verdict: $verdict,
    violations: $violations,
    payload: (if $verdict == "sync" then $mapped.payload else null end)
  }
