//! The origin map: requests for some origins are sent to others (tests, local fixtures).

use std::collections::BTreeMap;

use reqwest::Url;

use super::request::parse_http_url;
use super::{HttpError, HttpFailure, HttpOutcome};

/// Requested origin (ASCII serialization) → the origin connected to instead.
#[derive(Debug, Clone, Default)]
pub(super) struct OriginMap {
    origins: BTreeMap<String, Url>,
}

impl OriginMap {
    /// Parses [`super::HttpConfig::origin_map`]: every key and value must be an origin.
    pub(super) fn parse(map: &BTreeMap<String, String>) -> Result<OriginMap, HttpError> {
        let mut origins = BTreeMap::new();
        for (from, to) in map {
            let from_origin = parse_origin(from)?;
            origins.insert(
                from_origin.origin().ascii_serialization(),
                parse_origin(to)?,
            );
        }
        Ok(OriginMap { origins })
    }

    /// The URL to connect to for the requested `url`: its origin swapped per the origin map.
    pub(super) fn connected_url(&self, url: &Url) -> Result<Url, HttpOutcome> {
        let Some(target) = self.origins.get(&url.origin().ascii_serialization()) else {
            return Ok(url.clone());
        };
        let mut connected = url.clone();
        let mapped = connected.set_scheme(target.scheme()).is_ok()
            && connected.set_host(target.host_str()).is_ok()
            && connected.set_port(target.port()).is_ok();
        if mapped {
            Ok(connected)
        } else {
            let message = format!("{url} cannot be mapped to origin {target}");
            Err(HttpOutcome::failed(HttpFailure::UrlInvalid, message))
        }
    }
}

/// Parses an origin: an `http`/`https` URL with nothing but scheme, host and port.
fn parse_origin(text: &str) -> Result<Url, HttpError> {
    let fail = |reason: &str| HttpError::OriginMap {
        entry: text.to_owned(),
        reason: reason.to_owned(),
    };
    let url = parse_http_url(text).map_err(|reason| fail(&reason))?;
    let bare = url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if bare {
        Ok(url)
    } else {
        Err(fail("an origin has no userinfo, path, query or fragment"))
    }
}
