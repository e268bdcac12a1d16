//! A small OAuth2 provider on a loopback port for the tests: the device
//! authorisation endpoint (RFC 8628), the token endpoint (device-code and
//! refresh grants, with refresh-token rotation and revocation) and the
//! introspection endpoint Dovecot's oauth2 passdb asks (RFC 7662). HTTP/1.1
//! on std's TcpListener, one request per connection.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct State {
    /// The user whom every approved login belongs to.
    pub user: String,
    /// Token polls answered `authorization_pending` before approval.
    pub pending_polls: u32,
    /// `expires_in` of every access token issued.
    pub access_ttl: u64,
    /// A refresh grant returns a new refresh token and revokes the old.
    pub rotate: bool,
    /// Valid refresh tokens → user.
    pub refresh: HashMap<String, String>,
    /// Valid access tokens → user.
    pub access: HashMap<String, String>,
    /// Every request: "path grant_type" (the grant, where there is one).
    pub log: Vec<String>,
    next: u32,
}

impl State {
    fn token(&mut self, kind: &str) -> String {
        self.next += 1;
        format!("{kind}-{}-{}", self.next, std::process::id())
    }

    /// How many requests went to `path` with `grant` ("" for any).
    pub fn count(&self, path: &str, grant: &str) -> usize {
        self.log
            .iter()
            .filter(|l| l.starts_with(path) && l.contains(grant))
            .count()
    }
}

pub struct Server {
    pub port: u16,
    pub state: Arc<Mutex<State>>,
}

impl Server {
    pub fn start(user: &str, pending_polls: u32, access_ttl: u64) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            user: user.to_string(),
            pending_polls,
            access_ttl,
            rotate: true,
            ..Default::default()
        }));
        let s = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || serve(conn, port, &s));
            }
        });
        Server { port, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Revoke every refresh token (the user withdrew the grant).
    pub fn revoke_refresh_tokens(&self) {
        self.state.lock().unwrap().refresh.clear();
    }

    /// The `oauth2` table of a mailbox using this server.
    pub fn table(&self, mechanism: &str) -> String {
        format!(
            "auth = \"oauth2\"\noauth2 = {{ device_authorization_url = \"{}\", token_url = \"{}\", client_id = \"postdesk-test\", scopes = [\"mail\", \"offline_access\"], mechanism = \"{mechanism}\" }}",
            self.url("/device"),
            self.url("/token")
        )
    }
}

fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn serve(conn: TcpStream, port: u16, state: &Mutex<State>) {
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split(' ').nth(1).unwrap_or("").to_string();
    let mut length = 0;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).unwrap();
    let f = form(&String::from_utf8_lossy(&body));
    let (status, json) = answer(&path, &f, port, &mut state.lock().unwrap());
    let mut w = conn;
    let _ = write!(
        w,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
}

fn error(code: &str) -> (&'static str, String) {
    (
        "400 Bad Request",
        serde_json::json!({"error": code, "error_description": format!("test server: {code}")})
            .to_string(),
    )
}

fn answer(
    path: &str,
    f: &HashMap<String, String>,
    port: u16,
    s: &mut State,
) -> (&'static str, String) {
    let grant = f.get("grant_type").cloned().unwrap_or_default();
    s.log.push(format!("{path} {grant}"));
    let ok = |v: serde_json::Value| ("200 OK", v.to_string());
    match path {
        "/device" => ok(serde_json::json!({
            "device_code": "device-code-1",
            "user_code": "WDJB-MJHT",
            "verification_uri": format!("http://127.0.0.1:{port}/verify"),
            "expires_in": 600,
            "interval": 1,
        })),
        "/token" if grant == "urn:ietf:params:oauth:grant-type:device_code" => {
            if s.pending_polls > 0 {
                s.pending_polls -= 1;
                return error("authorization_pending");
            }
            issue(s, true)
        }
        "/token" if grant == "authorization_code" => {
            // The code the test pastes back, with PKCE's verifier.
            if f.get("code").map(String::as_str) != Some("auth-code-1")
                || f.get("code_verifier").is_none_or(|v| v.len() < 43)
            {
                return error("invalid_grant");
            }
            issue(s, true)
        }
        "/token" if grant == "refresh_token" => {
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            if !s.refresh.contains_key(&rt) {
                return error("invalid_grant");
            }
            if s.rotate {
                s.refresh.remove(&rt);
            }
            let rotate = s.rotate;
            issue(s, rotate)
        }
        "/introspect" => {
            let t = f.get("token").cloned().unwrap_or_default();
            match s.access.get(&t) {
                Some(user) => ok(serde_json::json!({"active": true, "username": user})),
                None => ok(serde_json::json!({"active": false})),
            }
        }
        _ => ("404 Not Found", "{}".into()),
    }
}

fn issue(s: &mut State, new_refresh: bool) -> (&'static str, String) {
    let access = s.token("access");
    s.access.insert(access.clone(), s.user.clone());
    let mut v = serde_json::json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": s.access_ttl,
    });
    if new_refresh {
        let rt = s.token("refresh");
        s.refresh.insert(rt.clone(), s.user.clone());
        v["refresh_token"] = rt.into();
    }
    ("200 OK", v.to_string())
}
