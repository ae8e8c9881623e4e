//! What the push and query clients share: URLs, auth, the HTTP client.

use std::fmt;
use std::time::Duration;

use reqwest::Url;

use crate::error::Error;

/// Loki push path.
pub const PUSH_PATH: &str = "/loki/api/v1/push";
/// Loki range query path.
pub const QUERY_RANGE_PATH: &str = "/loki/api/v1/query_range";

/// How to authenticate to Loki (or the gateway in front of it).
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// No `Authorization` header.
    #[default]
    None,
    /// HTTP basic auth.
    Basic {
        /// User name (Grafana Cloud: the stack's user id).
        user: String,
        /// Password or API token.
        pass: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

// Credentials never reach logs: Debug prints only which scheme is used.
impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("pass", &"<redacted>")
                .finish(),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl Auth {
    pub(crate) fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => req,
            Auth::Basic { user, pass } => req.basic_auth(user, Some(pass)),
            Auth::Bearer(t) => req.bearer_auth(t),
        }
    }
}

/// Builds `base` + `path`, keeping a path prefix (a gateway mount point) and
/// accepting a base that already names the push endpoint.
pub(crate) fn endpoint(base: &str, path: &str) -> Result<Url, Error> {
    let mut url = Url::parse(base.trim()).map_err(|e| Error::Config {
        key: "url",
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Config {
            key: "url",
            reason: format!("scheme must be http or https, not {}", url.scheme()),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::Config {
            key: "url",
            reason: "no host".into(),
        });
    }
    let mut prefix = url.path().trim_end_matches('/').to_owned();
    for known in [PUSH_PATH, QUERY_RANGE_PATH] {
        if let Some(p) = prefix.strip_suffix(known) {
            prefix = p.to_owned();
        }
    }
    url.set_path(&format!("{prefix}{path}"));
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The URL without user info, for logs.
pub(crate) fn redacted(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// rustls needs a process-wide crypto provider when none is compiled in as the
/// default; ring is the lighter one to build. If the application installed one
/// already, that one stays.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, Error> {
    ensure_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("callweave/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(Error::http)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let u = endpoint("http://127.0.0.1:3100", PUSH_PATH).unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:3100/loki/api/v1/push");
        let u = endpoint("https://gw.example/loki-a/", PUSH_PATH).unwrap();
        assert_eq!(u.as_str(), "https://gw.example/loki-a/loki/api/v1/push");
        let u = endpoint("http://h:3100/loki/api/v1/push", QUERY_RANGE_PATH).unwrap();
        assert_eq!(u.as_str(), "http://h:3100/loki/api/v1/query_range");
        assert!(endpoint("ftp://h", PUSH_PATH).is_err());
        assert!(endpoint("not a url", PUSH_PATH).is_err());
        let u = endpoint("http://u:secret@h:3100", PUSH_PATH).unwrap();
        assert!(!redacted(&u).contains("secret"));
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let a = Auth::Basic {
            user: "123".into(),
            pass: "glc_secret".into(),
        };
        assert!(!format!("{a:?}").contains("glc_secret"));
        assert!(!format!("{:?}", Auth::Bearer("tok".into())).contains("tok"));
    }
}
