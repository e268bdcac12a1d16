//! Config tests of `auth = "oauth2"` (helpers in `tests.rs`).

use super::tests::{env, problems, write};
use super::*;

/// A mailbox logging in with OAuth2 (line 12 is `auth`), and `smtp_extra`
/// in `[smtp]`.
fn oauth_config(mailbox_oauth: &str, smtp_extra: &str) -> String {
    format!(
        r#"
[system]
fqdn = "desk.example.com"
[storage]
database = "db.sqlite"
data_dir = "/var/lib/pd"
[smtp]
host = "localhost"
{smtp_extra}
[[queue]]
name = "support"
[[mailbox]]
name = "support"
address = "support@example.com"
queue = "support"
host = "outlook.office365.com"
username = "support@example.com"
after = "flag"
{mailbox_oauth}
"#
    )
}

#[test]
fn the_microsoft_preset_fills_endpoints_and_scopes_and_smtp_may_share_it() {
    let text = oauth_config(
        "auth = \"oauth2\"\noauth2 = { provider = \"microsoft\", tenant = \"contoso.com\", client_id = \"abc\" }",
        "username = \"support@example.com\"\nauth = \"oauth2\"\noauth2 = { mailbox = \"support\" }",
    );
    let (_d, p) = write(&text);
    let c = Config::load_with_env(&p, &env(&[])).unwrap_or_else(|e| panic!("{e}"));
    let o = c.mailboxes[0]
        .imap
        .as_ref()
        .unwrap()
        .oauth2
        .as_ref()
        .unwrap();
    assert_eq!(
        o.token_url,
        "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token"
    );
    assert_eq!(
        o.device_authorization_url,
        "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/devicecode"
    );
    // Sharing with the relay adds SMTP.Send to the one token's scopes.
    assert_eq!(
        o.scopes,
        [
            oauth::MICROSOFT_IMAP_SCOPE,
            "offline_access",
            oauth::MICROSOFT_SMTP_SCOPE
        ]
    );
    assert_eq!(o.mechanism, Mechanism::Xoauth2);
    assert_eq!(o.token_file, Path::new("/var/lib/pd/oauth/support.json"));
    assert_eq!(o.refresh_token_max_age, Duration::from_secs(90 * 86_400));
    assert_eq!(c.smtp.oauth2.as_ref(), Some(o));
    assert_eq!(c.oauth_accounts().len(), 1, "one account, shared");
    assert!(!format!("{o:?}").contains("secret"));
}

#[test]
fn explicit_endpoints_and_an_own_smtp_account() {
    let text = oauth_config(
        r#"auth = "oauth2"
[mailbox.oauth2]
device_authorization_url = "http://127.0.0.1:9/device"
token_url = "http://127.0.0.1:9/token"
client_id = "desk"
client_secret_env = "SECRET"
scopes = ["mail"]
mechanism = "oauthbearer"
refresh_token_max_age_days = 30
refresh_token_warn_days = 5"#,
        "username = \"relay@example.com\"\nauth = \"oauth2\"\noauth2 = { provider = \"google\", client_id = \"g\", client_secret = \"s\" }",
    );
    let (_d, p) = write(&text);
    let c = Config::load_with_env(&p, &env(&[("SECRET", "shh")])).unwrap_or_else(|e| panic!("{e}"));
    let o = c.mailboxes[0]
        .imap
        .as_ref()
        .unwrap()
        .oauth2
        .as_ref()
        .unwrap();
    assert_eq!(o.client_secret.as_deref(), Some("shh"));
    assert_eq!(o.mechanism, Mechanism::Oauthbearer);
    assert_eq!(o.refresh_token_warn, Duration::from_secs(5 * 86_400));
    let s = c.smtp.oauth2.as_ref().unwrap();
    assert_eq!(s.account, "smtp");
    assert_eq!(s.scopes, [oauth::GOOGLE_MAIL_SCOPE]);
    // Google's device flow does not grant the Gmail scope.
    assert_eq!(s.grant, Grant::AuthorizationCode);
    assert_eq!(
        s.authorization_url,
        "https://accounts.google.com/o/oauth2/v2/auth"
    );
    assert_eq!(s.redirect_url, "http://127.0.0.1:1/");
    assert_eq!(o.grant, Grant::DeviceCode);
    assert_eq!(c.smtp.credentials.as_ref().unwrap().0, "relay@example.com");
    let names: Vec<_> = c
        .oauth_accounts()
        .iter()
        .map(|o| o.account.clone())
        .collect();
    assert_eq!(names, ["support", "smtp"]);
}

#[test]
fn oauth_mistakes_name_file_line_and_key() {
    // auth = "oauth2" without a table.
    assert_eq!(
        problems(&oauth_config("auth = \"oauth2\"", ""), &[]),
        ["c.toml:19: mailbox[0].auth: \"oauth2\" needs an oauth2 table (e.g. oauth2 = { provider = \"microsoft\", client_id = \"…\" })"]
    );
    // A table without auth, a password beside a token, no client id.
    let p = problems(
        &oauth_config("password = \"x\"\noauth2 = { provider = \"google\" }", ""),
        &[],
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("mailbox[0].oauth2: set, but auth is \"password\""),
        "{p:?}"
    );
    let p = problems(
        &oauth_config(
            "password = \"x\"\nauth = \"oauth2\"\noauth2 = { provider = \"google\" }",
            "",
        ),
        &[],
    );
    let want = [
        "mailbox[0].oauth2.client_id: required",
        "mailbox[0].password: not used with auth = \"oauth2\"",
    ];
    for w in want {
        assert!(p.iter().any(|l| l.contains(w)), "{w} in {p:?}");
    }
    // The password's own line, and the table's.
    assert!(
        p[0].starts_with("c.toml:19: ") && p[1].starts_with("c.toml:21: "),
        "{p:?}"
    );
    // SMTP: no OAUTHBEARER in lettre; sharing a mailbox that has no token.
    let p = problems(
        &oauth_config(
            "password = \"x\"",
            "username = \"u\"\nauth = \"oauth2\"\noauth2 = { mailbox = \"support\", mechanism = \"oauthbearer\" }",
        ),
        &[],
    );
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].contains("smtp.oauth2.mechanism: SMTP supports only \"xoauth2\""),
        "{p:?}"
    );
    assert!(
        p[1].contains("no [[mailbox]] named \"support\" logs in with auth = \"oauth2\""),
        "{p:?}"
    );
    // The relay's own account and a mailbox named "smtp" would share a file.
    let text = oauth_config(
        "auth = \"oauth2\"\noauth2 = { provider = \"microsoft\", client_id = \"a\" }",
        "username = \"u\"\nauth = \"oauth2\"\noauth2 = { provider = \"microsoft\", client_id = \"a\" }",
    )
    .replace("name = \"support\"\naddress", "name = \"smtp\"\naddress");
    let p = problems(&text, &[]);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("mailbox[0].name: \"smtp\" is the name of [smtp]'s own OAuth2 account"),
        "{p:?}"
    );
}
