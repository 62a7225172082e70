//! Alerts when an app becomes fatal: pluggable notifiers; a webhook through reqwest, with Slack, Microsoft Teams and Telegram message formats as thin variants.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::json;

/// One fatal app, as an alert says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub app_id: String,
    pub group: String,
    pub parent: String,
    pub name: String,
    pub message: String,
    pub fatal_time: Option<chrono::NaiveDateTime>,
}

impl Alert {
    pub fn title(&self) -> String {
        format!("dc-manager: app {}/{}/{} disabled", self.group, self.parent, self.name)
    }

    pub fn text(&self) -> String {
        let when = self.fatal_time.map(|t| format!(" at {} UTC", t.format("%Y-%m-%d %H:%M:%S"))).unwrap_or_default();
        format!("{}{when}: {}. Re-enable it with `dcctl enable {}/{}/{}` once fixed.", self.title(), self.message, self.group, self.parent, self.name)
    }
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Delivers alerts somewhere. An error means "not delivered, try again later".
pub trait Notifier: Send + Sync {
    fn send<'a>(&'a self, alert: &'a Alert) -> SendFuture<'a>;
    /// For logs; never holds a secret (a webhook URL can carry a token).
    fn describe(&self) -> String;
}

/// The body a webhook gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// The alert's fields as a JSON object.
    Json,
    /// Slack incoming webhook: `{"text": ...}`.
    Slack,
    /// Microsoft Teams incoming webhook: a MessageCard.
    Teams,
    /// Telegram Bot API `sendMessage` (the URL is `https://api.telegram.org/bot<token>/sendMessage`).
    Telegram { chat_id: String },
}

impl Format {
    pub fn body(&self, alert: &Alert) -> serde_json::Value {
        match self {
            Format::Json => json!({
                "event": "app_fatal",
                "app_id": alert.app_id,
                "group": alert.group,
                "parent": alert.parent,
                "app": alert.name,
                "message": alert.message,
                "fatal_time": alert.fatal_time.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
                "text": alert.text(),
            }),
            Format::Slack => json!({ "text": alert.text() }),
            Format::Teams => json!({
                "@type": "MessageCard",
                "@context": "https://schema.org/extensions",
                "summary": alert.title(),
                "themeColor": "D70000",
                "title": alert.title(),
                "text": alert.text(),
            }),
            Format::Telegram { chat_id } => json!({ "chat_id": chat_id, "text": alert.text() }),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
            Format::Teams => "teams",
            Format::Telegram { .. } => "telegram",
        }
    }
}

/// POSTs the alert as JSON; any answer but 2xx is a failure to retry.
pub struct Webhook {
    client: reqwest::Client,
    url: String,
    format: Format,
}

impl Webhook {
    pub fn new(url: impl Into<String>, format: Format) -> Result<Webhook, String> {
        let url = url.into();
        let parsed = reqwest::Url::parse(&url).map_err(|e| format!("alert webhook URL is not a URL ({e}); write it as http(s)://host/path"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("alert webhook URL must be http or https, not {}", parsed.scheme()));
        }
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| e.to_string())?;
        Ok(Webhook { client, url, format })
    }

    /// `FORMAT=URL` as the command line takes it: json, slack, teams or
    /// telegram:CHAT_ID; a bare URL is json.
    pub fn from_arg(arg: &str) -> Result<Webhook, String> {
        let (format, url) = match arg.split_once('=') {
            Some((format, url)) if !format.contains(':') || format.starts_with("telegram:") => (format, url),
            _ => ("json", arg),
        };
        let format = match format {
            "json" => Format::Json,
            "slack" => Format::Slack,
            "teams" => Format::Teams,
            other => match other.strip_prefix("telegram:") {
                Some(chat) if !chat.is_empty() => Format::Telegram { chat_id: chat.to_string() },
                _ => return Err(format!("alert format `{other}` is unknown; use json=URL, slack=URL, teams=URL or telegram:CHAT_ID=URL")),
            },
        };
        Webhook::new(url, format)
    }
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may carry a token.
        f.write_str(&self.describe())
    }
}

impl Notifier for Webhook {
    fn send<'a>(&'a self, alert: &'a Alert) -> SendFuture<'a> {
        Box::pin(async move {
            let response = self.client.post(&self.url).json(&self.format.body(alert)).send().await.map_err(|e| without_url(&e))?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("{} webhook answered {status}", self.format.name()))
            }
        })
    }

    fn describe(&self) -> String {
        let host = reqwest::Url::parse(&self.url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        format!("{} webhook on {host}", self.format.name())
    }
}

/// reqwest's error text without the URL, which may hold a token.
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    format!("webhook {kind}: {}", std::error::Error::source(error).map(|s| s.to_string()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert { app_id: "ab".into(), group: "hr".into(), parent: "fina".into(), name: "daily".into(), message: "3 consecutive failed runs".into(), fatal_time: None }
    }

    #[test]
    fn formats_are_thin_variants_of_one_alert() {
        assert_eq!(Format::Slack.body(&alert())["text"], alert().text());
        assert_eq!(Format::Teams.body(&alert())["@type"], "MessageCard");
        assert_eq!(Format::Teams.body(&alert())["title"], "dc-manager: app hr/fina/daily disabled");
        assert_eq!(Format::Telegram { chat_id: "-100".into() }.body(&alert())["chat_id"], "-100");
        assert_eq!(Format::Json.body(&alert())["app_id"], "ab");
    }

    #[test]
    fn arguments_name_the_format() {
        assert!(matches!(Webhook::from_arg("slack=http://127.0.0.1:9/x").unwrap().format, Format::Slack));
        assert!(matches!(Webhook::from_arg("http://127.0.0.1:9/x").unwrap().format, Format::Json));
        assert_eq!(Webhook::from_arg("telegram:42=https://example.invalid/bot1/sendMessage").unwrap().format, Format::Telegram { chat_id: "42".into() });
        assert!(Webhook::from_arg("pager=http://x").unwrap_err().contains("unknown"));
        assert!(Webhook::from_arg("ftp://x").unwrap_err().contains("http or https"));
    }
}
