# The second jq baseline: the program a user comparing syncwright with jq
# would write, not a port of every rule. The seed's mandatory fields (an
# Account, a Contact, at least one product line, "Add to Xero" ticked) and the
# mapping of mappings/invoices.yaml, with the default settings, run over the
# same JSON Lines as the engine: one Zoho invoice per line in, one result per
# line out ({source_id, label, verdict, violations, payload}).
#
# No lookup beyond the mapping's own tables (tax types, statuses, amount
# types): no Contacts record to check that the Contact belongs to the
# Account, no Products record for a line without a product code, and none
# of the other rules (status, tax mode, line limit, Xero's limits). Dates are
# cut to YYYY-MM-DD without being checked; money is rounded in binary
# floating point.
#
# The bench compares its answers with the engine's only where they are
# comparable: records whose engine violations are all of the checks above,
# and, in a payload, the item codes this program found itself.

def blank: . == null
  or ((type == "string") and (test("\\S") | not))
  or ((type == "array" or type == "object") and length == 0);
def v(code; severity; field): {rule: "invoices/mandatory_fields", code: code, severity: severity, field: field};
def round_dp(n): pow(10; n) as $m | (. * $m | if . < 0 then -((-.) | round) else round end) / $m;

{"GST": "OUTPUT", "GST Free": "EXEMPTOUTPUT", "No Tax": "NONE"} as $tax_types
| {"Created": "DRAFT", "Approved": "AUTHORISED", "Delivered": "AUTHORISED", "Paid": "AUTHORISED"} as $statuses
| inputs
| . as $r
| ($r.Invoiced_Items // $r.Product_Details) as $lines
| [
    (if ($r.Account_Name.name? | blank) or ($r.Account_Name.id? | blank)
     then v("MISSING_ACCOUNT"; "error"; "Account_Name") else empty end),
    (if ($r.Contact_Name.name? | blank) or ($r.Contact_Name.id? | blank)
     then v("MISSING_CONTACT"; "error"; "Contact_Name") else empty end),
    (if ($lines | type) != "array" or ($lines | length) == 0
     then v("NO_PRODUCT_LINES"; "error"; "Invoiced_Items") else empty end),
    (if $r.Add_to_Xero != true
     then v("ADD_TO_XERO_UNCHECKED"; "skip"; "Add_to_Xero") | .rule = "invoices/add_to_xero" else empty end)
  ] as $violations
| (if any($violations[]; .severity == "error") then "reject"
   elif ($violations | length) > 0 then "skip" else "sync" end) as $verdict
| {
    source_id: $r.id,
    label: $r.Invoice_Number,
    verdict: $verdict,
    violations: $violations,
    payload: (if $verdict != "sync" then null else
      {
        Type: "ACCREC",
        Contact: {Name: $r.Account_Name.name},
        InvoiceNumber: $r.Invoice_Number,
        Reference: $r.Subject,
        Date: ($r.Invoice_Date | if . == null then null else .[0:10] end),
        DueDate: ($r.Due_Date | if . == null then null else .[0:10] end),
        CurrencyCode: $r.Currency,
        CurrencyRate: (if $r.Exchange_Rate == 1 then null else $r.Exchange_Rate end),
        Status: ($statuses[$r.Status // ""] // "DRAFT"),
        LineAmountTypes: "Exclusive",
        LineItems: [$lines[] | {
          Description: (.Description // .Product_Name.name),
          Quantity: (.Quantity // 1),
          UnitAmount: (.List_Price | if . == null then null else round_dp(4) end),
          DiscountAmount: (.Discount | if . == null or . == 0 then null else round_dp(2) end),
          ItemCode: .Product_Name.Product_Code,
          AccountCode: "200",
          TaxType: $tax_types[.Line_Tax[0].name? // ""]
        } | del(.[] | nulls)]
      } | del(.[] | nulls)
    end)
  }
