//! What Zoho and Xero tell the service: Zoho CRM notifications
//! (`POST /hooks/zoho`, through the watch channels of [`channels`]) and
//! Xero webhooks (`POST /hooks/xero`). Both answer at once and hand the
//! records they name to the [`debounce`] buffer, which queues them a few
//! seconds later, coalesced.

pub mod channels;
pub mod debounce;
pub mod xero;
pub mod zoho;
