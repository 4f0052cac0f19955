//! Redirects, followed by hand so that each target is judged before it is contacted.
//!
//! A response is a redirect when its status is 301, 302, 303, 307 or 308 and it has a
//! `Location` header; any other response (300, 304, a 3xx without `Location`) is final. The
//! `Location` is resolved against the requested URL of the hop (never the connected one).
//!
//! The next request's method follows the Fetch standard, as browsers do:
//!
//! | status | method |
//! |---|---|
//! | 301, 302 | `POST` becomes `GET`; any other method is kept |
//! | 303 | anything but `GET` and `HEAD` becomes `GET` |
//! | 307, 308 | kept |
//!
//! When the method becomes `GET` the body is dropped, with the headers that describe it
//! (`content-type`, `content-encoding`, `content-language`, `content-location`). When the
//! target's origin (scheme, host, port) differs from the hop's, the credentials
//! (`authorization`, `proxy-authorization`, `cookie`) are dropped, as reqwest and browsers do:
//! a grant that allows a second host does not mean the first host's secrets should go there.

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, Response, StatusCode, Url};

use super::{HttpFailure, HttpOutcome};

/// Headers describing a body, dropped with it.
const BODY_HEADERS: [&str; 4] = [
    "content-type",
    "content-encoding",
    "content-language",
    "content-location",
];
/// Credentials that never follow a redirect to another origin.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// One request of an exchange, as requested (before the origin map).
#[derive(Debug, Clone)]
pub(super) struct Hop {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
}

/// The hop a redirect `response` to `hop` leads to; `None` when the response is final.
pub(super) fn next_hop(hop: &Hop, response: &Response) -> Result<Option<Hop>, HttpOutcome> {
    let status = response.status();
    let Some(becomes_get) = method_becomes_get(status, &hop.method) else {
        return Ok(None);
    };
    let Some(location) = response.headers().get(header::LOCATION) else {
        return Ok(None);
    };
    let invalid = |reason: String| {
        let message = format!("the {status} redirect's location is unusable: {reason}");
        HttpOutcome::failed(HttpFailure::UrlInvalid, message)
    };
    let location = location
        .to_str()
        .map_err(|_| invalid("it is not visible ASCII".into()))?;
    let url = hop
        .url
        .join(location)
        .map_err(|e| invalid(format!("{location:?}: {e}")))?;
    let mut next = Hop {
        method: hop.method.clone(),
        url,
        headers: hop.headers.clone(),
        body: hop.body.clone(),
    };
    if becomes_get {
        next.method = Method::GET;
        next.body = None;
        for name in &BODY_HEADERS {
            next.headers.remove(*name);
        }
    }
    if next.url.origin() != hop.url.origin() {
        for name in &CREDENTIAL_HEADERS {
            next.headers.remove(*name);
        }
    }
    Ok(Some(next))
}

/// For a redirect status, whether `method` becomes `GET`; `None` for any other status.
fn method_becomes_get(status: StatusCode, method: &Method) -> Option<bool> {
    match status {
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => Some(*method == Method::POST),
        StatusCode::SEE_OTHER => Some(*method != Method::GET && *method != Method::HEAD),
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_follow_the_fetch_rules() {
        let cases = [
            (301, Method::POST, Some(true)),
            (302, Method::POST, Some(true)),
            (301, Method::PUT, Some(false)),
            (302, Method::GET, Some(false)),
            (303, Method::PUT, Some(true)),
            (303, Method::HEAD, Some(false)),
            (303, Method::GET, Some(false)),
            (307, Method::POST, Some(false)),
            (308, Method::DELETE, Some(false)),
            (300, Method::GET, None),
            (304, Method::GET, None),
            (200, Method::GET, None),
        ];
        for (status, method, expected) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(
                method_becomes_get(status, &method),
                expected,
                "{status} {method}"
            );
        }
    }
}
