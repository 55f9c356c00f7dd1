//! Reading a list page by page, in the connection's paging style:
//! `link_header` (the `Link` header's `rel="next"`), `offset_limit` (the
//! body's next-page path, or the next offset), `page_per_page` (numbered
//! pages until a short one) and `cursor` (the body's next cursor).

use reqwest::{Method, Url};
use serde_json::Value;
use syncwright_engine::connector::ConnectorError;
use syncwright_engine::jsonpath::Selector;

use super::client::{Answer, CallError, RestClient};
use super::config::{ListSpec, Paging};

/// Where a list is in its pages.
pub struct Pager {
    paging: Paging,
    records: Selector,
    next: Option<Url>,
    /// The offset or page number of the next page, for styles that count.
    counter: u64,
}

impl Pager {
    /// The first page of `list` at `url` (its path filled, its query and
    /// `extra` parameters set): the paging style adds its own parameters.
    pub fn new(list: &ListSpec, mut url: Url, extra: &[(String, String)]) -> Result<Self, String> {
        let records = Selector::compile(&list.records).map_err(|e| format!("records: {e}"))?;
        let mut counter = 0;
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in &list.query {
                query.append_pair(k, v);
            }
            for (k, v) in extra {
                query.append_pair(k, v);
            }
            match &list.paging {
                Paging::None => {}
                Paging::LinkHeader {
                    size_param,
                    page_size,
                } => {
                    query.append_pair(size_param, &page_size.to_string());
                }
                Paging::OffsetLimit {
                    offset_param,
                    limit_param,
                    page_size,
                    ..
                } => {
                    query.append_pair(offset_param, "0");
                    query.append_pair(limit_param, &page_size.to_string());
                }
                Paging::PagePerPage {
                    page_param,
                    size_param,
                    page_size,
                    first_page,
                } => {
                    counter = u64::from(*first_page);
                    query.append_pair(page_param, &first_page.to_string());
                    query.append_pair(size_param, &page_size.to_string());
                }
                Paging::Cursor {
                    size_param: Some(size_param),
                    page_size,
                    ..
                } => {
                    query.append_pair(size_param, &page_size.to_string());
                }
                Paging::Cursor { .. } => {}
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        Ok(Pager {
            paging: list.paging.clone(),
            records,
            next: Some(url),
            counter,
        })
    }

    /// The next page's records; `None` after the last page.
    pub async fn next_page(
        &mut self,
        client: &RestClient,
    ) -> Result<Option<Vec<Value>>, ConnectorError> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let answer = client
            .call(Method::GET, &url, None)
            .await
            .map_err(|e| match e {
                CallError::NotSent(r) | CallError::GaveUp(r) => ConnectorError::Remote(r),
            })?;
        if !answer.status.is_success() {
            return Err(client.refused("GET", &url, &answer));
        }
        let records = match self.records.first(&answer.body) {
            Some(Value::Array(items)) => items.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(one) => vec![one.clone()],
        };
        self.next = self
            .following(client, &url, &answer, records.len())
            .map_err(ConnectorError::Remote)?;
        if self.next.as_ref() == Some(&url) {
            // An API naming the same page again would loop forever.
            self.next = None;
        }
        Ok(Some(records))
    }

    /// The URL of the page after `url`, from the answer.
    fn following(
        &mut self,
        client: &RestClient,
        url: &Url,
        answer: &Answer,
        count: usize,
    ) -> Result<Option<Url>, String> {
        match &self.paging {
            Paging::None => Ok(None),
            Paging::LinkHeader { .. } => {
                let links: Vec<&str> = answer
                    .headers
                    .get_all("link")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                match next_link(&links.join(",")) {
                    Some(next) => client.resolve(&next).map(Some),
                    None => Ok(None),
                }
            }
            Paging::OffsetLimit {
                next_page: Some(path),
                ..
            } => {
                let selector = Selector::compile(path).map_err(|e| e.to_string())?;
                match selector.first(&answer.body).and_then(Value::as_str) {
                    Some(next) if !next.trim().is_empty() => client.resolve(next).map(Some),
                    _ => Ok(None),
                }
            }
            Paging::OffsetLimit {
                offset_param,
                page_size,
                ..
            } => {
                if count < *page_size as usize {
                    return Ok(None);
                }
                self.counter += u64::from(*page_size);
                Ok(Some(with_param(
                    url,
                    offset_param,
                    &self.counter.to_string(),
                )))
            }
            Paging::PagePerPage {
                page_param,
                page_size,
                ..
            } => {
                if count == 0 || count < *page_size as usize {
                    return Ok(None);
                }
                self.counter += 1;
                Ok(Some(with_param(url, page_param, &self.counter.to_string())))
            }
            Paging::Cursor {
                cursor_param,
                next_cursor,
                ..
            } => {
                let selector = Selector::compile(next_cursor).map_err(|e| e.to_string())?;
                let cursor = match selector.first(&answer.body) {
                    Some(Value::String(s)) if !s.is_empty() => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => return Ok(None),
                };
                if count == 0 {
                    return Ok(None);
                }
                Ok(Some(with_param(url, cursor_param, &cursor)))
            }
        }
    }
}

/// `url` with `name` set to `value` (replacing it, other parameters kept in order).
fn with_param(url: &Url, name: &str, value: &str) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut next = url.clone();
    {
        let mut query = next.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        query.append_pair(name, value);
    }
    next
}

/// The `rel="next"` URL of a `Link` header (RFC 5988), if any.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        let target = target.trim();
        (is_next && target.starts_with('<') && target.ends_with('>'))
            .then(|| target[1..target.len() - 1].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_among_the_others() {
        let header = "<https://x/api/v1/courses?page=2&per_page=10>; rel=\"current\",<https://x/api/v1/courses?page=3&per_page=10>; rel=\"next\",<https://x/api/v1/courses?page=1&per_page=10>; rel=\"first\"";
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://x/api/v1/courses?page=3&per_page=10")
        );
        assert_eq!(next_link("<https://x/a?page=1>; rel=\"first\""), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn a_parameter_is_replaced_and_the_others_kept() {
        let url = Url::parse("https://x/a?page=1&per_page=5&q=b").unwrap();
        assert_eq!(
            with_param(&url, "page", "2").as_str(),
            "https://x/a?per_page=5&q=b&page=2"
        );
    }
}
