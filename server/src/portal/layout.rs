//! The pages' frame: the document head, the stylesheet, the navigation,
//! and links into Xero and Zoho CRM. Every value inserted is escaped by
//! maud, so text from the CRM or Xero shows as text.

use maud::{html, Markup, PreEscaped, DOCTYPE};

/// The stylesheet: system fonts, calm colours, tables that line up, and a
/// layout that reads on a 375 px wide screen.
pub const STYLE: &str = include_str!("style.css");

/// The small script that follows a run's progress (the pages work without it).
pub const SCRIPT: &str = include_str!("progress.js");

/// The Xero page of invoice `id`.
pub fn xero_link(id: &str) -> String {
    format!("https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={id}")
}

/// The Zoho CRM page of record `id` of the CRM module `module`.
pub fn zoho_link(module: &str, id: &str) -> String {
    format!("https://crm.zoho.com/crm/tab/{module}/{id}")
}

/// The document head: the title, the viewport for phones, the stylesheet.
fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · syncwright" }
            style { (PreEscaped(STYLE)) }
        }
    }
}

/// A page without navigation (the button's answer, the sign-in form).
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top { span.brand { "syncwright" } }
                main.narrow {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The sections of the portal, as the navigation lists them.
pub const SECTIONS: &[(&str, &str)] = &[
    ("/", "Dashboard"),
    ("/portal/sync", "Manual Sync"),
    ("/portal/runs", "History"),
    ("/portal/attention", "Needs attention"),
    ("/portal/plan", "Preview"),
    ("/portal/mapping", "Mapping"),
];

/// A portal page: navigation (with `current` marked; paths under the
/// project's base), the title, the body, and a sign-out form carrying the
/// session's CSRF token. In a host of several projects the header names
/// the project and links to the list of projects.
pub fn page(title: &str, current: &str, signed: &super::Signed, body: Markup) -> Markup {
    let project = signed.base.strip_prefix("/projects/");
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top {
                    a.brand href="/" { "syncwright" }
                    @if let Some(project) = project {
                        a.project href="/" title="Every project" { (project) }
                    }
                    nav aria-label="Sections" {
                        @for (href, label) in SECTIONS {
                            @if *href == current {
                                a href=(signed.at(href)) aria-current="page" { (label) }
                            } @else {
                                a href=(signed.at(href)) { (label) }
                            }
                        }
                    }
                    form.signout method="post" action=(signed.at("/portal/logout")) {
                        input type="hidden" name="csrf" value=(signed.csrf);
                        button type="submit" { "Sign out" }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}
