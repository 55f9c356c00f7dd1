//! Zoho's routes: the accounts server's token endpoint and the CRM API
//! (records, search, metadata, org, users, notifications).
#![allow(clippy::result_large_err)]

use super::metadata;
use super::records::succeeded_ids;
use crate::calls::OrgTag;
use crate::form::form_decode;
use crate::server::{header, reply, AppState, St};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

type Params = Query<HashMap<String, String>>;

/// Zoho's routes, under `/zoho/accounts` and `/zoho/api`.
pub fn routes() -> Router<Arc<AppState>> {
    let v8 = "/zoho/api/crm/v8";
    Router::new()
        .route("/zoho/accounts/oauth/v2/token", post(token))
        .route(&format!("{v8}/settings/fields"), get(fields))
        .route(&format!("{v8}/settings/modules"), get(modules))
        .route(
            &format!("{v8}/settings/modules/{{module}}"),
            get(module_one),
        )
        .route(&format!("{v8}/org"), get(org))
        .route(&format!("{v8}/users"), get(users))
        .route(&format!("{v8}/users/{{id}}"), get(user_one))
        .route(
            &format!("{v8}/actions/watch"),
            get(watch_list)
                .post(watch_subscribe)
                .put(watch_subscribe)
                .patch(watch_patch)
                .delete(watch_delete),
        )
        .route(
            &format!("{v8}/{{module}}"),
            get(list).put(update).post(create).delete(delete),
        )
        .route(&format!("{v8}/{{module}}/search"), get(search))
        .route(&format!("{v8}/{{module}}/actions/count"), get(count))
        .route(
            &format!("{v8}/{{module}}/{{id}}"),
            get(get_one).put(update_one).delete(delete_one),
        )
}

/// Tags an answer with the organisation it concerns, for the call log.
fn tagged(mut r: Response, st: &AppState, org: usize) -> Response {
    if let Some(o) = st.orgs.get(org) {
        r.extensions_mut()
            .insert(OrgTag(o.info.zoho_org_id.clone()));
    }
    r
}

async fn token(State(st): St, Query(q): Params, body: Bytes) -> Response {
    let mut params = q;
    params.extend(form_decode(&String::from_utf8_lossy(&body)));
    let api = format!("{}/zoho/api", st.base);
    let org_of = |refresh: &str| {
        st.orgs
            .iter()
            .position(|o| o.info.zoho_refresh_token == refresh)
    };
    let (answer, org) = {
        let mut store = st.zoho_tokens.lock().unwrap();
        super::oauth::token(&params, org_of, &mut store, st.cfg.token_ttl_secs, &api)
    };
    let r = reply(answer);
    match org {
        Some(o) => tagged(r, &st, o),
        None => r,
    }
}

/// The organisation the request's token reaches, or Zoho's 401.
fn auth(st: &AppState, headers: &HeaderMap) -> Result<usize, Response> {
    match super::oauth::bearer(header(headers, "authorization")) {
        None => Err(reply((
            401,
            Some(super::zerr(
                "AUTHENTICATION_FAILURE",
                "Authentication failed",
                json!({}),
            )),
        ))),
        Some(t) => st
            .zoho_tokens
            .lock()
            .unwrap()
            .check(t)
            .map_err(|_| reply(super::invalid_token())),
    }
}

/// Runs `f` on the organisation the token reaches; tags the answer.
fn with_org(
    st: &AppState,
    headers: &HeaderMap,
    f: impl FnOnce(usize) -> (u16, Option<Value>),
) -> Response {
    match auth(st, headers) {
        Err(r) => r,
        Ok(org) => tagged(reply(f(org)), st, org),
    }
}

/// Sends the notifications due for records `ids` of `module` of `org`.
pub fn notify(
    st: &AppState,
    org: usize,
    module: &str,
    operation: &str,
    ids: &[String],
    fields: &[String],
) {
    let api = format!("{}/zoho/api", st.base);
    let due = st.orgs[org].zoho.lock().unwrap().watches.callbacks(
        module,
        operation,
        ids,
        fields,
        &api,
        st.clock.utc(),
    );
    for c in due {
        st.courier
            .post_later("zoho_notification", &c.url, c.body.to_string(), vec![]);
    }
}

/// The field names a write body sets.
fn written_fields(body: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut out: Vec<String> = v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|o| o.keys().filter(|k| *k != "id").cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Applies a record write to organisation `org` as the API does: Modified_Time
/// moves and notifications go out for the records it changed.
pub fn write_records(
    st: &AppState,
    org: usize,
    module: &str,
    body: &[u8],
    insert: bool,
    path_id: Option<&str>,
) -> (u16, Option<Value>) {
    let now = st.clock.utc();
    let answer = {
        let mut z = st.orgs[org].zoho.lock().unwrap();
        if insert {
            z.records.create(module, body, now)
        } else {
            z.records.update(module, body, path_id, now)
        }
    };
    let watched = !st.orgs[org]
        .zoho
        .lock()
        .unwrap()
        .watches
        .live(now)
        .is_empty();
    if let (true, Some(b)) = (watched, &answer.1) {
        let ids = succeeded_ids(b);
        let op = if insert { "insert" } else { "update" };
        notify(st, org, module, op, &ids, &written_fields(body));
    }
    answer
}

async fn list(
    State(st): St,
    Path(module): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    let ims = header(&headers, "if-modified-since");
    with_org(&st, &headers, |org| {
        let z = st.orgs[org].zoho.lock().unwrap();
        z.records.list(&module, &q, ims, st.clock.utc())
    })
}

async fn search(
    State(st): St,
    Path(module): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    with_org(&st, &headers, |org| {
        st.orgs[org]
            .zoho
            .lock()
            .unwrap()
            .records
            .search(&module, &q)
    })
}

async fn count(State(st): St, Path(module): Path<String>, headers: HeaderMap) -> Response {
    with_org(&st, &headers, |org| {
        st.orgs[org].zoho.lock().unwrap().records.count(&module)
    })
}

async fn get_one(
    State(st): St,
    Path((module, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    with_org(&st, &headers, |org| {
        st.orgs[org].zoho.lock().unwrap().records.get(&module, &id)
    })
}

async fn update(
    State(st): St,
    Path(module): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_org(&st, &headers, |org| {
        write_records(&st, org, &module, &body, false, None)
    })
}

async fn create(
    State(st): St,
    Path(module): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_org(&st, &headers, |org| {
        write_records(&st, org, &module, &body, true, None)
    })
}

async fn update_one(
    State(st): St,
    Path((module, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_org(&st, &headers, |org| {
        write_records(&st, org, &module, &body, false, Some(&id))
    })
}

/// Deletes records of organisation `org` and notifies the channels watching.
pub fn delete_records(
    st: &AppState,
    org: usize,
    module: &str,
    ids: &[String],
) -> (u16, Option<Value>) {
    let answer = st.orgs[org]
        .zoho
        .lock()
        .unwrap()
        .records
        .delete(module, ids);
    if let Some(b) = &answer.1 {
        notify(st, org, module, "delete", &succeeded_ids(b), &[]);
    }
    answer
}

async fn delete(
    State(st): St,
    Path(module): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    let ids: Vec<String> = q
        .get("ids")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    with_org(&st, &headers, |org| delete_records(&st, org, &module, &ids))
}

async fn delete_one(
    State(st): St,
    Path((module, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    with_org(&st, &headers, |org| {
        delete_records(&st, org, &module, &[id])
    })
}

fn invalid_module(param: &str) -> (u16, Option<Value>) {
    (
        400,
        Some(super::zerr(
            "INVALID_MODULE",
            "The module name given seems to be invalid",
            json!({"param_name": param}),
        )),
    )
}

async fn fields(State(st): St, Query(q): Params, headers: HeaderMap) -> Response {
    with_org(&st, &headers, |org| {
        let Some(module) = q.get("module").filter(|m| !m.is_empty()) else {
            return (
                400,
                Some(super::zerr(
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    json!({"param_name": "module"}),
                )),
            );
        };
        let z = st.orgs[org].zoho.lock().unwrap();
        let known = z.records.module_names().contains(module) || z.records.is_subform(module);
        if !known {
            return invalid_module("module");
        }
        let recs = z.records.records_for_metadata(module);
        let out: Vec<Value> = metadata::fields_of(module, &recs)
            .iter()
            .map(|f| metadata::field_json(module, f))
            .collect();
        (200, Some(json!({"fields": out})))
    })
}

async fn modules(State(st): St, headers: HeaderMap) -> Response {
    with_org(&st, &headers, |org| {
        let names = st.orgs[org].zoho.lock().unwrap().records.module_names();
        let out: Vec<Value> = metadata::module_names(names.iter())
            .iter()
            .enumerate()
            .map(|(i, m)| metadata::module_json(m, i))
            .collect();
        (200, Some(json!({"modules": out})))
    })
}

async fn module_one(State(st): St, Path(module): Path<String>, headers: HeaderMap) -> Response {
    with_org(&st, &headers, |org| {
        let names = st.orgs[org].zoho.lock().unwrap().records.module_names();
        match metadata::module_names(names.iter())
            .iter()
            .position(|m| m.eq_ignore_ascii_case(&module))
        {
            Some(i) => {
                let name = &metadata::module_names(names.iter())[i];
                (
                    200,
                    Some(json!({"modules": [metadata::module_json(name, i)]})),
                )
            }
            None => invalid_module("api_name"),
        }
    })
}

async fn org(State(st): St, headers: HeaderMap) -> Response {
    with_org(&st, &headers, |org| {
        let o = st.orgs[org].zoho.lock().unwrap().org.clone();
        (200, Some(json!({"org": [o]})))
    })
}

fn users_answer(st: &AppState, org: usize) -> (u16, Option<Value>) {
    let user = super::org::current_user(&st.orgs[org].info.name);
    (
        200,
        Some(
            json!({"users": [user], "info": {"per_page": 200, "count": 1, "page": 1, "more_records": false}}),
        ),
    )
}

async fn users(State(st): St, Query(q): Params, headers: HeaderMap) -> Response {
    with_org(&st, &headers, |org| {
        let kind = q.get("type").map(String::as_str).unwrap_or("AllUsers");
        let known = [
            "AllUsers",
            "ActiveUsers",
            "DeactiveUsers",
            "ConfirmedUsers",
            "NotConfirmedUsers",
            "DeletedUsers",
            "ActiveConfirmedUsers",
            "AdminUsers",
            "ActiveConfirmedAdmins",
            "CurrentUser",
        ];
        if !known.contains(&kind) {
            return (
                400,
                Some(super::zerr(
                    "INVALID_DATA",
                    "invalid data",
                    json!({"param_name": "type"}),
                )),
            );
        }
        if ["DeactiveUsers", "NotConfirmedUsers", "DeletedUsers"].contains(&kind) {
            return (204, None);
        }
        users_answer(&st, org)
    })
}

async fn user_one(State(st): St, Path(id): Path<String>, headers: HeaderMap) -> Response {
    with_org(&st, &headers, |org| {
        if id == super::org::USER_ID {
            users_answer(&st, org)
        } else {
            (204, None)
        }
    })
}

fn module_list(st: &AppState, org: usize) -> Vec<String> {
    let names = st.orgs[org].zoho.lock().unwrap().records.module_names();
    metadata::module_names(names.iter())
}

async fn watch_list(State(st): St, Query(q): Params, headers: HeaderMap) -> Response {
    let api = format!("{}/zoho/api", st.base);
    with_org(&st, &headers, |org| {
        st.orgs[org]
            .zoho
            .lock()
            .unwrap()
            .watches
            .list(&q, &api, st.clock.utc())
    })
}

async fn watch_subscribe(State(st): St, headers: HeaderMap, body: Bytes) -> Response {
    watch_write(&st, &headers, &body, false)
}

async fn watch_patch(State(st): St, headers: HeaderMap, body: Bytes) -> Response {
    watch_write(&st, &headers, &body, true)
}

fn watch_write(st: &AppState, headers: &HeaderMap, body: &[u8], patch: bool) -> Response {
    let api = format!("{}/zoho/api", st.base);
    with_org(st, headers, |org| {
        let modules = module_list(st, org);
        st.orgs[org]
            .zoho
            .lock()
            .unwrap()
            .watches
            .write(body, patch, &modules, &api, st.clock.utc())
    })
}

async fn watch_delete(State(st): St, Query(q): Params, headers: HeaderMap) -> Response {
    let api = format!("{}/zoho/api", st.base);
    with_org(&st, &headers, |org| {
        st.orgs[org]
            .zoho
            .lock()
            .unwrap()
            .watches
            .unsubscribe(&q, &api)
    })
}
