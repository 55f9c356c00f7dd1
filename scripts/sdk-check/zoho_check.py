"""Drives Zoho's own Python SDK (zohocrmsdk8-0, unmodified) against the sandbox.

Usage: zoho_check.py BASE_URL WORK_DIR

The SDK is pointed at the sandbox with a custom DataCenter.Environment (API
URL, accounts URL); its token store, field cache and log go under WORK_DIR.
"""

import os
import sys

from checks import check, expect, finish
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store import FileStore
from zohocrmsdk.src.com.zoho.api.logger import Logger
from zohocrmsdk.src.com.zoho.crm.api import HeaderMap, ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.record import (
    ActionWrapper,
    APIException,
    BodyWrapper,
    GetRecordsParam,
    Record,
    RecordOperations,
    ResponseWrapper,
    SearchRecordsParam,
    SuccessResponse,
)
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig

BASE = sys.argv[1].rstrip("/")
WORK = sys.argv[2]
os.makedirs(WORK, exist_ok=True)
state = {}


@check("initialise the SDK with a custom DataCenter.Environment")
def _():
    env = DataCenter.Environment(
        f"{BASE}/zoho/api",
        f"{BASE}/zoho/accounts/oauth/v2/token",
        f"{BASE}/zoho/api",
    )
    token = OAuthToken(
        client_id="sandbox-client",
        client_secret="sandbox-secret",
        refresh_token="sandbox-refresh",
    )
    Initializer.initialize(
        environment=env,
        token=token,
        store=FileStore(file_path=os.path.join(WORK, "tokens.csv")),
        sdk_config=SDKConfig(auto_refresh_fields=False, pick_list_validation=False),
        resource_path=WORK,
        logger=Logger.get_instance(level=Logger.Levels.INFO, file_path=os.path.join(WORK, "sdk.log")),
    )


def body_of(response):
    expect(response is not None, "no response")
    return response.get_object()


def api_error(obj):
    if isinstance(obj, APIException):
        return f"{obj.get_code().get_value()}: {obj.get_message()} {obj.get_details()}"
    return f"unexpected {type(obj).__name__}"


@check("get_records with fields and paging")
def _():
    ops = RecordOperations("Invoices")
    seen = []
    for page in (1, 2):
        pm = ParameterMap()
        pm.add(GetRecordsParam.fields, "Subject,Status,Grand_Total,Account_Name")
        pm.add(GetRecordsParam.per_page, 5)
        pm.add(GetRecordsParam.page, page)
        resp = ops.get_records(pm, HeaderMap())
        obj = body_of(resp)
        expect(isinstance(obj, ResponseWrapper), api_error(obj))
        recs = obj.get_data()
        expect(len(recs) == 5, f"page {page}: {len(recs)} records")
        expect(obj.get_info().get_more_records() is True, "more_records")
        seen += [r.get_id() for r in recs]
    expect(len(set(seen)) == 10, "pages overlap")
    state["ids"] = seen


@check("get_record with line items")
def _():
    obj = body_of(RecordOperations("Invoices").get_record(int(state["ids"][0])))
    expect(isinstance(obj, ResponseWrapper), api_error(obj))
    rec = obj.get_data()[0]
    lines = rec.get_key_value("Invoiced_Items")
    expect(lines and len(lines) >= 1, f"no line items: {rec.get_key_values()}")
    expect(rec.get_key_value("Subject"), "no Subject")


@check("update_records: one good record, one bad id")
def _():
    good = Record()
    good.set_id(int(state["ids"][0]))
    good.add_key_value("Subject", "Updated through Zoho's SDK")
    bad = Record()
    bad.set_id(1234567890123)
    bad.add_key_value("Subject", "Nobody")
    body = BodyWrapper()
    body.set_data([good, bad])
    obj = body_of(RecordOperations("Invoices").update_records(body, HeaderMap()))
    expect(isinstance(obj, ActionWrapper), api_error(obj))
    results = obj.get_data()
    expect(isinstance(results[0], SuccessResponse), api_error(results[0]))
    expect(isinstance(results[1], APIException), f"the bad id: {type(results[1]).__name__}")
    expect(results[1].get_code().get_value() == "INVALID_DATA", results[1].get_code().get_value())
    check_obj = body_of(RecordOperations("Invoices").get_record(int(state["ids"][0])))
    expect(check_obj.get_data()[0].get_key_value("Subject") == "Updated through Zoho's SDK", "not updated")


@check("search_records by criteria")
def _():
    pm = ParameterMap()
    pm.add(SearchRecordsParam.criteria, "(Invoice_Number:equals:INV-10101)")
    obj = body_of(RecordOperations("Invoices").search_records(pm, HeaderMap()))
    expect(isinstance(obj, ResponseWrapper), api_error(obj))
    expect([r.get_key_value("Invoice_Number") for r in obj.get_data()] == ["INV-10101"], "wrong records")


@check("search_records by word")
def _():
    pm = ParameterMap()
    pm.add(SearchRecordsParam.word, "Sydney")
    obj = body_of(RecordOperations("Invoices").search_records(pm, HeaderMap()))
    expect(isinstance(obj, ResponseWrapper), api_error(obj))
    expect(len(obj.get_data()) >= 1, "nothing found")
    expect(all("sydney" in str(r.get_key_values()).lower() for r in obj.get_data()), "a record without the word")


@check("search_records by email")
def _():
    pm = ParameterMap()
    pm.add(SearchRecordsParam.email, "jane.citizen@acme.example.com")
    obj = body_of(RecordOperations("Contacts").search_records(pm, HeaderMap()))
    expect(isinstance(obj, ResponseWrapper), api_error(obj))
    expect([str(r.get_id()) for r in obj.get_data()] == ["5725767000000410001"], "wrong contact")


@check("org (OrgOperations.get_organization)")
def _():
    from zohocrmsdk.src.com.zoho.crm.api import org

    obj = body_of(org.OrgOperations().get_organization())
    expect(isinstance(obj, org.ResponseWrapper), api_error(obj))
    expect(obj.get_org()[0].get_id(), "no org id")


@check("notifications: a channel gets Zoho's callback when a record is edited")
def _():
    import datetime
    import http.server
    import json
    import threading

    from zohocrmsdk.src.com.zoho.crm.api import notifications as n

    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    channel = n.Notification()
    channel.set_channel_id("1000000068001")
    channel.set_events(["Invoices.edit"])
    channel.set_notify_url(f"http://127.0.0.1:{server.server_address[1]}/zoho")
    channel.set_token("sdk-check-token")
    channel.set_channel_expiry(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
    body = n.BodyWrapper()
    body.set_watch([channel])
    obj = body_of(n.NotificationsOperations().enable_notifications(body))
    expect(isinstance(obj, n.ActionWrapper), api_error(obj))
    expect(isinstance(obj.get_watch()[0], n.SuccessResponse), api_error(obj.get_watch()[0]))
    rec = Record()
    rec.set_id(int(state["ids"][1]))
    rec.add_key_value("Subject", "Edited while watched")
    wrapper = BodyWrapper()
    wrapper.set_data([rec])
    RecordOperations("Invoices").update_records(wrapper, HeaderMap())
    import time

    for _ in range(50):
        if received:
            break
        time.sleep(0.1)
    server.shutdown()
    expect(received, "no callback arrived")
    expect(received[0]["token"] == "sdk-check-token", f"{received[0]}")
    expect(received[0]["ids"] == [str(state["ids"][1])] and received[0]["operation"] == "update", f"{received[0]}")


finish("zohocrmsdk8-0")
