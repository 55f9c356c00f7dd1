# The jq baseline: the shipped invoice mapping and its source checks written
# in jq, run over the same JSON Lines as the engine. Input: one Zoho invoice
# per line; `$related[0]` holds the Contacts of the snapshot.
($related[0].Contacts | map({key: .id, value: .}) | from_entries) as $contacts
| {"GST": "OUTPUT", "GST Free": "EXEMPTOUTPUT", "No Tax": "NONE"} as $tax_types
| {"Created": "DRAFT", "Approved": "AUTHORISED", "Delivered": "AUTHORISED", "Paid": "AUTHORISED"} as $statuses
| . as $r
| (($r.Invoiced_Items // $r.Product_Details) // []) as $lines
| [
    (if ($r.Account_Name.name // "") == "" then {rule: "mandatory_fields", severity: "error", field: "Account_Name", message: "Account Name is empty"} else empty end),
    (if ($r.Contact_Name.name // "") == "" then {rule: "mandatory_fields", severity: "error", field: "Contact_Name", message: "Contact Name is empty"}
     elif ($contacts[$r.Contact_Name.id].Account_Name.id) != $r.Account_Name.id then {rule: "mandatory_fields", severity: "error", field: "Contact_Name", message: "Contact belongs to another Account"}
     else empty end),
    (if ($lines | length) == 0 then {rule: "mandatory_fields", severity: "error", field: "Invoiced_Items", message: "no product lines"} else empty end),
    (if $r.Add_to_Xero != true then {rule: "add_to_xero", severity: "skip", field: "Add_to_Xero", message: "Add to Xero is not checked"} else empty end),
    (if ($lines | length) > 200 then {rule: "line_item_limit", severity: "error", field: "Invoiced_Items", message: "too many lines"} else empty end),
    ($lines[] | (.Line_Tax // .line_tax // [])[] | select($tax_types[.name] == null)
      | {rule: "tax_mode", severity: "error", field: "Line_Tax", message: "Zoho tax \(.name) has no Xero TaxType"})
  ] as $violations
| (if any($violations[]; .severity == "error") then "reject" elif any($violations[]; .severity == "skip") then "skip" else "sync" end) as $verdict
| {
    source_id: $r.id,
    label: $r.Invoice_Number,
    verdict: $verdict,
    violations: $violations,
    payload: (if $verdict != "sync" then null else {
      Type: "ACCREC",
      Contact: {Name: $r.Account_Name.name},
      InvoiceNumber: $r.Invoice_Number,
      Reference: $r.Subject,
      Date: ($r.Invoice_Date | .[0:10]),
      DueDate: ($r.Due_Date | .[0:10]),
      CurrencyCode: $r.Currency,
      Status: ($statuses[$r.Status] // "DRAFT"),
      LineAmountTypes: "Exclusive",
      LineItems: [$lines[] | {
        Description: (.Description // .product_description // .Product_Name.name),
        Quantity: (.Quantity // .quantity),
        UnitAmount: (((.List_Price // .list_price) * 10000 | round) / 10000),
        ItemCode: (.Product_Name.Product_Code // .product.Product_Code),
        AccountCode: "200",
        TaxType: $tax_types[((.Line_Tax // .line_tax)[0].name)]
      }]
    } end)
  }
