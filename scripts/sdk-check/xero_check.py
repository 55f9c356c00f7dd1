"""Drives Xero's own Python SDK (xero-python, unmodified) against the sandbox.

Usage: xero_check.py BASE_URL   (the sandbox's listener, e.g. http://127.0.0.1:8787)

Only the SDK's URLs are pointed at the sandbox: the token endpoint (TokenApi's
URL attributes) and the API hosts (base_url of AccountingApi and IdentityApi).
"""

import datetime
import sys

from checks import check, expect, finish
from xero_python.accounting import (
    Account,
    AccountingApi,
    Contact,
    Contacts,
    Invoice,
    Invoices,
    LineItem,
    Payment,
)
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import AccountingBadRequestException
from xero_python.identity import IdentityApi

BASE = sys.argv[1].rstrip("/")
TokenApi.client_credentials_token_url = f"{BASE}/xero/identity/connect/token"
TokenApi.refresh_token_url = f"{BASE}/xero/identity/connect/token"

store = {}
client = ApiClient(
    Configuration(oauth2_token=OAuth2Token(client_id="sandbox-client", client_secret="sandbox-secret")),
    pool_threads=1,
    oauth2_token_getter=lambda: store.get("token"),
    oauth2_token_saver=lambda t: store.__setitem__("token", t),
)
api = AccountingApi(client, base_url=f"{BASE}/xero/api/api.xro/2.0")
state = {}


@check("token: client credentials through the SDK")
def _():
    token = client.get_client_credentials_token()
    expect(token and token.get("access_token"), f"no access token: {token}")


@check("connections: the tenant (IdentityApi.get_connections)")
def _():
    conns = IdentityApi(client, base_url=f"{BASE}/xero/api").get_connections()
    expect(len(conns) >= 1, "no connection")
    state["tenant"] = str(conns[0].tenant_id)


@check("organisation (get_organisations)")
def _():
    orgs = api.get_organisations(state["tenant"]).organisations
    expect(len(orgs) == 1, f"{len(orgs)} organisations")
    o = orgs[0]
    expect(str(o.organisation_id) == state["tenant"], "OrganisationID is not the tenant id")
    expect(o.name and o.base_currency is not None and o.country_code is not None, f"{o}")


@check("accounts (get_accounts)")
def _():
    accounts = api.get_accounts(state["tenant"]).accounts
    expect(any(a.code == "090" for a in accounts), "no bank account 090")


@check("tax rates (get_tax_rates)")
def _():
    rates = api.get_tax_rates(state["tenant"]).tax_rates
    expect(any(r.tax_type == "OUTPUT" for r in rates), "no OUTPUT tax rate")


@check("items (get_items)")
def _():
    items = api.get_items(state["tenant"]).items
    expect(any(i.code == "WIDGET-01" for i in items), "no WIDGET-01")


@check("contacts: create (create_contacts)")
def _():
    got = api.create_contacts(state["tenant"], Contacts(contacts=[Contact(name="SDK Check Pty", email_address="sdk@example.com")]), summarize_errors=False)
    c = got.contacts[0]
    expect(not c.has_validation_errors, f"{c.validation_errors}")
    state["contact"] = str(c.contact_id)


@check("contacts: a duplicate name is refused per element")
def _():
    got = api.create_contacts(state["tenant"], Contacts(contacts=[Contact(name="SDK Check Pty")]), summarize_errors=False)
    c = got.contacts[0]
    expect(c.has_validation_errors, "duplicate accepted")
    expect("already assigned" in c.validation_errors[0].message, c.validation_errors[0].message)


def invoice(number, line, status="AUTHORISED"):
    return Invoice(
        type="ACCREC",
        contact=Contact(contact_id=state["contact"]),
        invoice_number=number,
        date=datetime.date(2024, 3, 1),
        due_date=datetime.date(2024, 3, 31),
        status=status,
        reference=f"REF-{number}",
        line_items=[line],
    )


@check("invoices: mixed batch with summarize_errors=False")
def _():
    good = invoice("SDK-1", LineItem(description="Widgets", quantity=2, unit_amount=25.0, account_code="200", tax_type="OUTPUT"))
    second = invoice("SDK-2", LineItem(item_code="GADGET-02", quantity=1, account_code="200"))
    bad = invoice("SDK-3", LineItem(description="x", quantity=1, unit_amount=5, account_code="200", tax_type="BOGUS"))
    got = api.create_invoices(state["tenant"], Invoices(invoices=[good, second, bad]), summarize_errors=False, unitdp=4)
    els = got.invoices
    expect(len(els) == 3, f"{len(els)} elements")
    expect(not els[0].has_errors and els[0].total == 55.0, f"{els[0].total}")
    expect(els[2].has_errors and "BOGUS" in els[2].validation_errors[0].message, f"{els[2].validation_errors}")
    state["invoice"] = str(els[0].invoice_id)
    state["invoice2"] = str(els[1].invoice_id)


@check("invoices: where filters (guid, DateTime, AmountDue, OR, parentheses) and order")
def _():
    t = state["tenant"]
    by_contact = api.get_invoices(t, where=f'Contact.ContactID==guid("{state["contact"]}")').invoices
    expect(len(by_contact) == 2, f"by contact: {len(by_contact)}")
    dated = api.get_invoices(t, where="Date >= DateTime(2024, 03, 01) AND Date < DateTime(2024, 04, 01)").invoices
    expect({i.invoice_number for i in dated} >= {"SDK-1", "SDK-2"}, "by date")
    due = api.get_invoices(t, where="AmountDue > 0").invoices
    expect(len(due) >= 2, f"amount due: {len(due)}")
    either = api.get_invoices(t, where='(InvoiceNumber == "SDK-1" OR InvoiceNumber == "SDK-2") AND Status == "AUTHORISED"', order="InvoiceNumber DESC").invoices
    expect([i.invoice_number for i in either] == ["SDK-2", "SDK-1"], f"{[i.invoice_number for i in either]}")
    starts = api.get_invoices(t, where='Reference.StartsWith("REF-SDK") AND Contact.Name.ToUpper() == "SDK CHECK PTY"').invoices
    expect(len(starts) == 2, f"string methods: {len(starts)}")


@check("invoices: update (update_invoice)")
def _():
    got = api.update_invoice(state["tenant"], state["invoice"], Invoices(invoices=[Invoice(reference="Updated by SDK")]))
    expect(got.invoices[0].reference == "Updated by SDK", f"{got.invoices[0].reference}")


@check("payments: create_payment moves AmountPaid")
def _():
    p = Payment(invoice=Invoice(invoice_id=state["invoice"]), account=Account(code="090"), amount=10.0, date=datetime.date(2024, 3, 10))
    got = api.create_payment(state["tenant"], p)
    expect(got.payments[0].amount == 10.0, f"{got.payments[0].amount}")
    inv = api.get_invoice(state["tenant"], state["invoice"]).invoices[0]
    expect(inv.amount_paid == 10.0 and inv.amount_due == 45.0, f"paid {inv.amount_paid}, due {inv.amount_due}")


@check("invoices: voiding one with payments is refused")
def _():
    try:
        api.update_invoice(state["tenant"], state["invoice"], Invoices(invoices=[Invoice(status="VOIDED")]))
    except AccountingBadRequestException as e:
        expect("payments" in str(e.body), f"{e.body}")
    else:
        raise AssertionError("the void was accepted")
    inv = api.get_invoice(state["tenant"], state["invoice"]).invoices[0]
    expect(inv.status == "AUTHORISED" and inv.amount_paid == 10.0, f"{inv.status} {inv.amount_paid}")


@check("invoices: voiding one without payments works")
def _():
    got = api.update_invoice(state["tenant"], state["invoice2"], Invoices(invoices=[Invoice(status="VOIDED")]))
    expect(got.invoices[0].status == "VOIDED", f"{got.invoices[0].status}")


@check("invoices: the same idempotency key twice creates one invoice")
def _():
    body = Invoices(invoices=[invoice("SDK-IDEM", LineItem(item_code="WIDGET-01", quantity=1, account_code="200"))])
    a = api.create_invoices(state["tenant"], body, summarize_errors=False, idempotency_key="sdk-check-1")
    b = api.create_invoices(state["tenant"], body, summarize_errors=False, idempotency_key="sdk-check-1")
    expect(a.invoices[0].invoice_id == b.invoices[0].invoice_id, "two invoices")
    n = api.get_invoices(state["tenant"], invoice_numbers=["SDK-IDEM"]).invoices
    expect(len(n) == 1, f"{len(n)} invoices numbered SDK-IDEM")


finish("xero-python")
