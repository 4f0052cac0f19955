//! Turning an [`HttpRequest`] into the first hop: URL, method and headers checked, the
//! idempotency key added.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};

use super::redirect::Hop;
use super::{ADAPTER_HEADERS, HttpFailure, HttpOutcome, HttpRequest, IDEMPOTENCY_KEY_HEADER};

/// The first hop of `request`: its URL parsed, method and headers validated, key added.
pub(super) fn first_hop(
    request: HttpRequest,
    idempotency_key: &[u8; 32],
) -> Result<Hop, HttpOutcome> {
    let url = parse_http_url(&request.url)
        .map_err(|reason| HttpOutcome::failed(HttpFailure::UrlInvalid, reason))?;
    let invalid = |message: String| HttpOutcome::failed(HttpFailure::RequestInvalid, message);
    let method_upper = request.method.to_ascii_uppercase();
    let method = Method::from_bytes(method_upper.as_bytes())
        .map_err(|_| invalid(format!("{:?} is not an HTTP method", request.method)))?;
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("{name:?} is not a header name")))?;
        if ADAPTER_HEADERS.contains(&header_name.as_str()) {
            return Err(invalid(format!(
                "header {header_name} is set by the adapter"
            )));
        }
        let header_value = HeaderValue::from_str(value)
            .map_err(|_| invalid(format!("the value of header {name} is not valid")))?;
        headers.append(header_name, header_value);
    }
    let key = HeaderValue::from_str(&lower_hex(idempotency_key))
        .map_err(|_| invalid("the idempotency key cannot be a header".into()))?;
    headers.insert(IDEMPOTENCY_KEY_HEADER, key);
    Ok(Hop {
        method,
        url,
        headers,
        body: request.body,
    })
}

/// Parses an absolute `http`/`https` URL with a host, or says why it is not one.
pub(super) fn parse_http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{text:?} is not an http or https URL with a host"));
    }
    Ok(url)
}

fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}
